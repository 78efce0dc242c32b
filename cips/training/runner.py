"""Train one run of params.yaml: the work of stage train@<run> and of `cips train`."""

from __future__ import annotations

from pathlib import Path

from cips.config import load_params


def train_from_params(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".", *, track: bool = True,
                      progress: bool = True):
    """Train run `run`; returns the TrainResult (train.json is written by rank 0)."""
    from cips.data.dataset import resolve_lmdb
    from cips.data.errors import DataError
    from cips.files import write_json_atomic
    from cips.layout import Layout
    from cips.training.loop import train

    layout = Layout(root)
    params = load_params(params_path)
    cfg = params.run(run)
    lmdb = layout.lmdb(cfg.dataset)
    if not lmdb.exists():
        raise FileNotFoundError(f"{lmdb}: no LMDB for dataset {cfg.dataset!r} (run `dvc repro prepare@{cfg.dataset}`)")
    try:
        resolve_lmdb(lmdb, cfg.model.size)
    except DataError as err:
        raise FileNotFoundError(f"{err} (datasets.{cfg.dataset}.resolutions must include model.size)") from None
    out_dir = layout.run(run)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = train(cfg, lmdb, out_dir, params.scale, track=track, progress=progress, root=root)
    if result.rank == 0:  # the process group is gone by now; the result says which rank this was
        write_json_atomic({
            "run": run, "dataset": cfg.dataset, "scale": params.scale, "arch": cfg.model.arch,
            "step": result.step, "steps": result.steps, "batch": cfg.train.batch,
            "img_per_s": round(result.img_per_s, 3), "wall_time_s": round(result.wall_time_s, 3),
            "params_g": result.params_g, "params_d": result.params_d,
            "resumed_from": result.resumed_from, "mlflow_run_id": result.mlflow_run_id,
            "max_rank_divergence": result.max_rank_divergence,
            "final": {k: round(v, 6) for k, v in result.last.items()},
            "curve": result.curve, "curve_seconds": round(result.curve_seconds, 3),
        }, layout.train_info(run))
    return result


def train_command(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".", track: bool = True) -> int:
    """Train `run` as a command does (stage train@<run> and `cips train`): progress and one summary line on
    success, one error line otherwise; returns the exit code (143 when stopped by a signal)."""
    import logging
    import sys

    from cips.config import ConfigError
    from cips.training.loop import TrainingDiverged, TrainingInterrupted

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = train_from_params(run, params_path, root, track=track)
    except TrainingInterrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return 143
    except (ConfigError, FileNotFoundError, TrainingDiverged, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{run}: step {result.step}/{result.steps}, {result.img_per_s:.1f} img/s, {result.wall_time_s:.1f} s")
    return 0
