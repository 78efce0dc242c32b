"""Stage evaluate@<run>: FID, KID and precision/recall of a run's EMA generator.

    python -m stages.evaluate RUN [--params params.yaml] [--root .]

Loads `runs/<RUN>/checkpoint.pt`, streams `eval.n_generated` samples through the feature networks,
scores them against the dataset's cached reference (`data/<dataset>/fid_ref.npz`, computed on the
spot if the protocol is not in it) and writes `runs/<RUN>/metrics.json` (atomically) and
`runs/<RUN>/eval_samples.png`. `run_stage` returns the result for callers that log it elsewhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cips.config import ConfigError, load_params


def run_stage(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".", track: bool = True):
    """Evaluate run `run` and write its metrics.json and sample grid; returns the EvalResult."""
    from cips.files import write_json_atomic, write_png
    from cips.metrics.evaluate import evaluate_checkpoint

    root = Path(root)
    params = load_params(params_path)
    cfg = params.run(run)
    run_dir = root / "runs" / run
    checkpoint = run_dir / "checkpoint.pt"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no checkpoint (run `dvc repro train@{run}` first)")
    png_dir = run_dir / "samples" if cfg.eval.save_png else None
    result = evaluate_checkpoint(
        checkpoint, cfg.dataset, cfg.eval, run=run, root=root / "data", png_dir=png_dir
    )
    result.metrics["scale"] = params.scale  # the report refuses to mix scales
    write_json_atomic(result.metrics, run_dir / "metrics.json")
    write_png(result.grid, run_dir / "eval_samples.png")
    if track:
        from cips.tracking import log_evaluation

        log_evaluation(_training_run_id(checkpoint), result.metrics, result.grid, root=root,
                       run=cfg, scale=params.scale)
    return result


def _training_run_id(checkpoint: Path) -> str | None:
    """The MLflow run of the training that wrote `checkpoint` (None for imported or untracked ones).

    Memory-mapped: only the small entries are read, not the weights evaluation has already loaded.
    """
    from cips.models.checkpoint import torch_load_data

    try:
        ckpt = torch_load_data(checkpoint, mmap=True)
    except Exception:  # noqa: BLE001 - unreadable or foreign: the evaluation then gets a run of its own
        return None
    return ckpt.get("mlflow_run_id") if isinstance(ckpt, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    try:
        result = run_stage(args.run, args.params, args.root, track=not args.no_track)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    m = result.metrics
    line = (
        f"{args.run}: FID {m['fid']:.3f}, KID {m['kid']:.5f}, precision {m['precision']:.3f}, "
        f"recall {m['recall']:.3f}"
    )
    if "floor" in m:
        line += f" (real-vs-real floor: FID {m['floor']['fid']:.3f})"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
