"""Per-pixel commands for any checkpoint (ours or imported): `cips foveate`, `superres`, `interpolate`,
`panorama`, `neighbours`, `mix`, `side-by-side`. Each draws the report's figure for that checkpoint into
--out (PNG or PDF, by suffix) and prints the figure's measurements as JSON.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import typer

CKPT = typer.Argument(..., help="checkpoint.pt of a run, or one from `cips import-official`")
OUT = typer.Option(..., "--out", help="the figure: FILE.png or FILE.pdf")
TRUNCATION = typer.Option(1.0, "--truncation", help="psi: 1 = none, 0 = the mean style")
DEVICE = typer.Option("auto", "--device", help="auto | cpu | cuda")
CHUNK = typer.Option(65536, "--chunk", help="points per sample per pass (bounds memory); 0 = all at once")


def _fail(err: Exception | str) -> None:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(2)


def _floats(spec: str, option: str) -> list[float]:
    try:
        return [float(p) for p in spec.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option}: {spec!r} is not a comma-separated list of numbers") from None


def _seeds(spec: str) -> list[int]:
    from cips.models.cli import parse_seeds

    return parse_seeds(spec)


def _source(checkpoint: Path, truncation: float, device: str):
    from cips.beyond.sections import load_source
    from cips.runtime import resolve_device

    return load_source(checkpoint, str(checkpoint), truncation, resolve_device(device))


def _write(fig, out: Path) -> None:
    from cips.files import write_bytes_atomic

    fmt = out.suffix.lower().lstrip(".")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight")
    write_bytes_atomic(buf.getvalue(), out)


def _run(out: Path, make: Callable[[], dict[str, np.ndarray]], figure: str) -> None:
    """Compute one figure's arrays, draw it into `out`, print its measurements."""
    from cips.beyond.figures import DRAW, meta_of

    if out.suffix.lower() not in (".png", ".pdf"):
        _fail(f"--out: {out} must end in .png or .pdf")
    try:
        data = make()
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        _fail(err)
    drawn = DRAW[figure](data)
    figs = drawn if isinstance(drawn, list) else [("", drawn)]
    for suffix, fig in figs:
        _write(fig, out if not suffix or len(figs) == 1 else out.with_name(f"{out.stem}_{suffix}{out.suffix}"))
    typer.echo(json.dumps(meta_of(data, figure), indent=2))


def chunk_of(chunk: int) -> int | None:
    return chunk or None


def foveate(checkpoint: Path = CKPT, out: Path = OUT, seed: int = typer.Option(0, "--seed"),
            fractions: str = typer.Option("0.05,0.25,0.5,1", "--fractions", help="shares of the grid rendered"),
            spread: float = typer.Option(0.8, "--spread", help="std of the Gaussian in coordinate units (grid "
                                                               "spans [-1, 1]; the paper's 0.4 x image size = 0.8)"),
            center: str = typer.Option("0,0", "--center", help="fixation point x,y in [-1, 1]"),
            repeats: int = typer.Option(3, "--repeats", help="timing: best of this many renders"),
            truncation: float = TRUNCATION, device: str = DEVICE, chunk: int = CHUNK) -> None:
    """Fig. 8: render a Gaussian subset of the pixels, fill the rest; PSNR, masked L1 and time vs the full render."""
    from cips.beyond import sections

    xy = _floats(center, "--center")
    if len(xy) != 2:
        raise typer.BadParameter(f"--center: {center!r} is not x,y")
    fr = _floats(fractions, "--fractions")
    _run(out, lambda: sections.fig8(_source(checkpoint, truncation, device), seed, fr, spread, (xy[0], xy[1]),
                                    repeats, chunk_of(chunk)), "fig8")


def superres(checkpoint: Path = CKPT, out: Path = OUT, seed: int = typer.Option(0, "--seed"),
             factors: str = typer.Option("1,2,4", "--factors", help="grid densities (whole numbers, with 1)"),
             truncation: float = TRUNCATION, device: str = DEVICE, chunk: int = CHUNK) -> None:
    """Fig. 9: one latent on 1x, 2x, 4x denser grids beside Lanczos upsampling of 1x, with both spectra."""
    from cips.beyond import sections

    fs = _floats(factors, "--factors")
    if any(f != int(f) for f in fs):
        raise typer.BadParameter(f"--factors: {factors!r}: whole numbers only")
    _run(out, lambda: sections.fig9(_source(checkpoint, truncation, device), seed, [int(f) for f in fs],
                                    chunk_of(chunk)), "fig9")


def interpolate(checkpoint: Path = CKPT, out: Path = OUT,
                seeds: str = typer.Option("0,1,2", "--seeds", help="rows run between consecutive seeds"),
                steps: int = typer.Option(8, "--steps", help="frames per row, ends included"),
                slerp: bool = typer.Option(False, "--slerp", help="spherical in z instead of linear in w"),
                truncation: float = TRUNCATION, device: str = DEVICE, chunk: int = CHUNK) -> None:
    """Fig. 10: latent interpolation between seeds (linear in w, or slerp in z)."""
    from cips.beyond import sections

    s = _seeds(seeds)
    _run(out, lambda: sections.fig10(_source(checkpoint, truncation, device), s, steps,
                                     "slerp-z" if slerp else "w", chunk_of(chunk)), "fig10")


def panorama(checkpoint: Path = CKPT, out: Path = OUT,
             seeds: str = typer.Option("", "--seeds", help="latents A,B (B is blended in at the edges); default: "
                                                           "0 and the most different of seeds 1-7"),
             widths: float = typer.Option(3.0, "--widths", help="cartesian models: image widths to render"),
             truncation: float = TRUNCATION, device: str = DEVICE, chunk: int = CHUNK) -> None:
    """Figs. 11, 17: the whole cylinder (or a wide cartesian grid), its seam, and per-pixel style blending."""
    from cips.beyond import sections

    s = _seeds(seeds) if seeds else None
    if s is not None and len(s) != 2:
        raise typer.BadParameter(f"--seeds: {seeds!r}: give two seeds, A and B")
    _run(out, lambda: sections.fig11(_source(checkpoint, truncation, device), (s[0], s[1]) if s else None, widths,
                                     chunk_of(chunk)), "fig11")


def neighbours_cmd(checkpoint: Path = CKPT, out: Path = OUT,
                   dataset: str | None = typer.Option(None, "--dataset", help="use data/NAME/fid_ref.npz's cached "
                                                                             "training features"),
                   real: Path | None = typer.Option(None, "--real", help="or: training images (LMDB or folder)"),
                   limit: int = typer.Option(1000, "--limit", help="with --real: training images searched (0: all)"),
                   root: Path = typer.Option(Path("."), "--root", help="project root holding data/NAME"),
                   seeds: str = typer.Option("0-5", "--seeds"), k: int = typer.Option(5, "--k"),
                   truncation: float = TRUNCATION, device: str = DEVICE) -> None:
    """Fig. 18: the training images nearest to generated samples in Inception feature space."""
    from cips.beyond import neighbours, sections
    from cips.metrics.features import load_inception
    from cips.runtime import resolve_device
    from cips.scale import project_layout

    if (dataset is None) == (real is None):
        raise typer.BadParameter("give --dataset NAME or --real PATH (one of them)")
    s = _seeds(seeds)

    def make() -> dict[str, np.ndarray]:
        src = _source(checkpoint, truncation, device)
        net = load_inception(resolve_device(device))
        if dataset is not None:
            layout = project_layout(root)
            train = neighbours.reference_features(layout.reference_bundle(dataset), layout.lmdb(dataset, src.g.size),
                                                  src.g.size)
        else:
            train = neighbours.lmdb_features(real, net, limit or None)
        return sections.fig18(src, train, net, s, k, dataset or str(real))

    _run(out, make, "fig18")


def mix(checkpoint: Path = CKPT, out: Path = OUT,
        sources: str = typer.Option("0-2", "--sources", help="seeds of the sources A (one row each)"),
        with_: str = typer.Option("3-5", "--with", help="seeds of the sources B, as many as A"),
        truncation: float = TRUNCATION, device: str = DEVICE, chunk: int = CHUNK) -> None:
    """Fig. 19: layer-wise style mixing (A's styles with B's at the late, middle, early layers)."""
    from cips.beyond import sections

    a, b = _seeds(sources), _seeds(with_)
    _run(out, lambda: sections.fig19(_source(checkpoint, truncation, device), a, b, chunk_of(chunk)), "fig19")


def side_by_side(checkpoints: list[Path] = typer.Argument(..., help="checkpoints, one row each (full first)"),
                 out: Path = OUT,
                 labels: str = typer.Option("", "--labels", help="row labels, comma-separated (default: paths)"),
                 seeds: str = typer.Option("0-7", "--seeds"), truncation: float = TRUNCATION,
                 device: str = DEVICE) -> None:
    """Fig. 15: samples of several checkpoints from the same latents, one row each (e.g. full vs patch-trained)."""
    from cips.beyond import sections

    names = [x.strip() for x in labels.split(",")] if labels else [str(c) for c in checkpoints]
    if len(names) != len(checkpoints):
        raise typer.BadParameter(f"--labels: {len(names)} labels for {len(checkpoints)} checkpoints")
    s = _seeds(seeds)

    def make() -> dict[str, np.ndarray]:
        rows = [(name, _source(c, truncation, device)) for name, c in zip(names, checkpoints, strict=True)]
        sizes = {src.g.size for _, src in rows}
        if len(sizes) > 1:
            raise ValueError(f"side-by-side: the checkpoints render different sizes {sorted(sizes)}")
        return sections.fig15({"checkpoints": rows}, s)

    _run(out, make, "fig15")


def register(app: typer.Typer) -> None:
    """Add the per-pixel commands to `app`."""
    app.command("foveate")(foveate)
    app.command("superres")(superres)
    app.command("interpolate")(interpolate)
    app.command("panorama")(panorama)
    app.command("neighbours")(neighbours_cmd)
    app.command("mix")(mix)
    app.command("side-by-side")(side_by_side)
