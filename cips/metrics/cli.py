"""Quality-metric commands: `cips evaluate`, `cips fid`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cips.console import fail


def _eval_config(params_path: Path, overrides: dict):
    """The base `eval:` section of params.yaml (defaults when there is no params.yaml), with overrides."""
    from cips.config import EvalConfig, from_dict
    from cips.scale import load_params

    base = {}
    if params_path.is_file():
        base = dict(load_params(params_path).eval)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(EvalConfig, base, "eval")


def evaluate(
    checkpoint: Path = typer.Argument(
        ...,
        help="checkpoint.pt (this project's format; official CIPS checkpoints after `cips import-official`)",
    ),
    dataset: str = typer.Option(..., "--dataset", help="dataset name: real images at data/NAME/lmdb/<size>/"),
    real: Path = typer.Option(None, "--real", help="real images elsewhere (image folder or LMDB) instead"),
    n: int = typer.Option(None, "--n", help="generated samples (default: eval.n_generated of params.yaml)"),
    n_real: int = typer.Option(None, "--n-real", help="real images in the reference (default: eval.n_real)"),
    floor: bool = typer.Option(None, "--floor/--no-floor", help="also score real vs real at the same N"),
    batch: int = typer.Option(None, "--batch"),
    seed: int = typer.Option(None, "--seed"),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:1 ..."),
    out: Path = typer.Option(None, "--out", help="write the metrics JSON here (default: print only)"),
    grid: Path = typer.Option(None, "--grid", help="write the sample grid PNG here"),
    png_dir: Path = typer.Option(None, "--png-dir", help="also write every sample as PNG into this folder"),
    params: Path = typer.Option(Path("params.yaml"), "--params", help="params.yaml with the eval protocol"),
    root: Path = typer.Option(Path("."), "--root", help="project root (data/<dataset>/ lives here)"),
    embedding_sampling: str = typer.Option(
        None, "--embedding-sampling",
        help="CIPS: exact | official (the official code's eval path; default: what the checkpoint records)",
    ),
) -> None:
    """FID, KID and precision/recall of a checkpoint's EMA generator, with their protocol, as JSON."""
    from cips.config import ConfigError
    from cips.files import write_json_atomic, write_png
    from cips.metrics.evaluate import evaluate_checkpoint
    from cips.scale import project_layout

    try:
        cfg = _eval_config(
            params,
            {
                "n_generated": n,
                "n_real": n_real,
                "real_floor": floor,
                "batch": batch,
                "seed": seed,
                "device": device,
            },
        )
        if embedding_sampling not in (None, "exact", "official"):
            raise ValueError(f"--embedding-sampling: {embedding_sampling!r} is not 'exact' or 'official'")
        result = evaluate_checkpoint(checkpoint, dataset, cfg, root=root, real=real, png_dir=png_dir,
                                     embedding_sampling=embedding_sampling,
                                     scale=project_layout(root, params).scale)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        fail(str(err))
    text = json.dumps(result.metrics, indent=2)
    if out is not None:
        write_json_atomic(result.metrics, out)
    if grid is not None:
        write_png(result.grid, grid)
    typer.echo(text)


def fid(
    path_a: Path = typer.Argument(..., help="image folder or LMDB (in the role of generated images)"),
    path_b: Path = typer.Argument(..., help="image folder or LMDB (in the role of real images)"),
    kid: bool = typer.Option(False, "--kid", help="also KID"),
    prc: bool = typer.Option(False, "--prc", help="also precision/recall (k-NN manifolds)"),
    batch: int = typer.Option(64, "--batch"),
    kid_subsets: int = typer.Option(100, "--kid-subsets"),
    kid_subset_size: int = typer.Option(1000, "--kid-subset-size", help="clipped to the smaller set"),
    prc_k: int = typer.Option(3, "--prc-k"),
    prc_features: str = typer.Option(
        "auto", "--prc-features", help="auto (VGG16 if present), vgg16, inception"
    ),
    exact: bool = typer.Option(False, "--exact", help="torch-fidelity's forward unchanged (slower)"),
    seed: int = typer.Option(0, "--seed", help="KID subset sampling"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Metrics between two image sets (folders as torch-fidelity reads them, or LMDBs), printed as JSON."""
    from cips.config import ConfigError, EvalConfig, from_dict
    from cips.metrics.evaluate import compare_sets
    from cips.metrics.features import open_images

    try:
        cfg = from_dict(
            EvalConfig,
            {
                "batch": batch,
                "kid_subsets": kid_subsets,
                "kid_subset_size": kid_subset_size,
                "prc_k": prc_k,
                "prc_features": prc_features,
                "seed": seed,
                "device": device,
                "feature_path": "exact" if exact else "fast",
            },
            "fid",
        )
        a, b = open_images(path_a), open_images(path_b)
        out = compare_sets(a, b, kid=kid, prc=prc, cfg=cfg, names=(str(path_a), str(path_b)))
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        fail(str(err))
    typer.echo(json.dumps(out, indent=2))


def register(app: typer.Typer) -> None:
    """Add this subpackage's commands to `app`."""
    app.command("evaluate")(evaluate)
    app.command("fid")(fid)
