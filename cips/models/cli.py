"""Model commands: `cips info [params]`, `cips sample`, `cips import-official`."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
import typer
from rich.console import Console
from rich.table import Table

console = Console()
info_app = typer.Typer(help="What is installed, and Table 4 (generator parameter counts).",
                       invoke_without_command=True)


@info_app.callback()
def info(ctx: typer.Context) -> None:
    """Versions, devices, and the offline assets the pipeline needs."""
    if ctx.invoked_subcommand is not None:
        return
    import cips

    console.print(f"cips {cips.__version__}, torch {torch.__version__}, Python {platform.python_version()}")
    cuda = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA device"
    console.print(f"devices: CPU ({torch.get_num_threads()} threads), {cuda}")
    console.print("Table 4 (generator parameters): `cips info params`")


@info_app.command("params")
def info_params(fmt: str = typer.Option("table", "--format", help="table | json")) -> None:
    """Table 4: parameters of the paper-scale 256x256 generators beside the published counts."""
    from cips.models.summary import table4

    rows = table4(official_widths=True)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if fmt != "table":
        raise typer.BadParameter(f"--format: {fmt!r} is not 'table' or 'json'")
    table = Table(title="Table 4: generator parameters at 256x256 (millions), and MACs per image")
    for col in ("model", "ours", "published", "difference", "exact count", "GMACs", "x StyleGAN2"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        mark = "" if r["matches"] in (True, None) else " [red](mismatch)[/red]"
        published = (f"{r['published_m']:.1f}", f"{r['difference_m']:+.3f}") if r["published_m"] else ("—", "—")
        table.add_row(r["model"], f"{r['params'] / 1e6:.2f}{mark}", *published, f"{r['params']:,}",
                      f"{r['gmacs']:.1f}", f"{r['macs_vs_stylegan2']:.2f}")
    console.print(table)
    console.print("MACs: torch's FlopCounterMode over one forward pass (matrix products and convolutions). The "
                  "authors report 3.3x StyleGAN2's MACs at 256 (https://github.com/advimman/CIPS/issues/1), "
                  "not in the paper.")


def parse_seeds(spec: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                seeds.extend(range(int(lo), int(hi) + 1))
            elif part:
                seeds.append(int(part))
        except ValueError:
            raise typer.BadParameter(f"--seeds: {part!r} is not a seed or a range like 0-63") from None
    if not seeds:
        raise typer.BadParameter("--seeds: no seeds given")
    return seeds


def sample(
    checkpoint: Path = typer.Argument(..., help="checkpoint.pt of a run, or one from `cips import-official`"),
    out: Path = typer.Option(..., "--out", help="folder for PNGs (grid.png + one per sample), or FILE.npy"),
    seeds: str = typer.Option("0-15", help="seeds of the latents, e.g. 0-63 or 1,5,9"),
    latents: Path | None = typer.Option(None, help="N x style_dim array of z (.npy) instead of --seeds"),
    truncation: float = typer.Option(1.0, help="psi: 1 = none, 0 = the mean style"),
    size: int | None = typer.Option(None, help="render on a denser/sparser grid of this side (CIPS only)"),
    panorama: bool = typer.Option(False, help="render the whole cylinder (cylindrical CIPS models)"),
    noise: str = typer.Option("random", help="per-pixel noise: random | zero"),
    chunk: int | None = typer.Option(65536, help="points per sample per pass (bounds memory); 0 = all"),
    batch: int = typer.Option(8, help="samples per forward pass"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    embedding_sampling: str | None = typer.Option(
        None, help="CIPS: exact | official (the official code's eval path; default: what the checkpoint records)"),
) -> None:
    """Render images from a checkpoint."""
    from cips import coords as coordsets
    from cips.images import grid_image, save_npy, save_png, to_uint8
    from cips.models.checkpoint import load_generator

    if noise not in ("random", "zero"):
        raise typer.BadParameter(f"--noise: {noise!r} is not 'random' or 'zero'")
    if embedding_sampling not in (None, "exact", "official"):
        raise typer.BadParameter(f"--embedding-sampling: {embedding_sampling!r} is not 'exact' or 'official'")
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       "cpu" if device == "auto" else device)
    try:
        g = load_generator(checkpoint, map_location=dev, embedding_sampling=embedding_sampling)
    except (FileNotFoundError, ValueError) as err:
        raise typer.BadParameter(str(err)) from None
    if latents is not None:
        z = torch.from_numpy(np.load(latents)).float()
        if z.ndim != 2 or z.shape[1] != g.style_dim:
            raise typer.BadParameter(f"--latents: {latents} has shape {tuple(z.shape)}, expected N x {g.style_dim}")
    else:
        from cips.sampling import latents_for_seeds

        z = latents_for_seeds(parse_seeds(seeds), g.style_dim)
    is_cips = hasattr(g, "encodings")
    grid = None
    if panorama:
        if not is_cips or g.coord_system != "cylindrical":
            raise typer.BadParameter("--panorama: the checkpoint is not a cylindrical CIPS model")
        height = size or g.size
        grid = coordsets.full_cylinder(height, round(g.panorama_width * height / g.size))
    elif size is not None and size != g.size:
        if not is_cips:
            raise typer.BadParameter(f"--size: a StyleGAN2 generator renders only at its size {g.size}")
        grid = coordsets.grid(size)
    kwargs = {} if not is_cips else {"chunk": chunk or None}
    images = []
    with torch.no_grad():
        for zb in z.split(batch):
            zb = zb.to(dev)
            c = None if grid is None else grid.to(dev).expand(zb.shape[0], -1, -1, -1)
            extra = {**kwargs, "coords": c} if is_cips else {}
            images.append(g(zb, truncation=truncation, noise_mode=noise, **extra).cpu())
    images = torch.cat(images)
    if out.suffix == ".npy":
        save_npy(images.numpy().astype(np.float32), out)
        console.print(f"wrote {out} {tuple(images.shape)} (raw generator output, not clamped)")
        return
    out.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(to_uint8(images)):
        save_png(img.permute(1, 2, 0).numpy(), out / f"{i:04d}.png")
    save_png(grid_image(images), out / "grid.png")
    console.print(f"wrote {len(images)} images and grid.png to {out}")


def import_official_cmd(
    checkpoint: Path = typer.Argument(..., help="a checkpoint saved by the official CIPS training code"),
    out: Path = typer.Option(..., "--out", help="where to write the converted checkpoint"),
) -> None:
    """Convert an official CIPS (CIPSskip/CIPSres) checkpoint into this project's format."""
    from cips.config import to_dict
    from cips.models.official import import_official

    cfg = import_official(checkpoint, out)
    console.print(f"wrote {out}: {json.dumps(to_dict(cfg))}")


def register(app: typer.Typer) -> None:
    """Add this subpackage's commands to `app`."""
    app.add_typer(info_app, name="info")
    app.command("sample")(sample)
    app.command("import-official")(import_official_cmd)
