"""Train one run of params.yaml: the work of stage train@<run> and of `cips train`.

A finished run leaves runs/<run>/generator.pt: the EMA generator with the resolved training config it was
trained from (`cips.config.resolved_run`), git-tracked at the scales that commit their evidence. When that
file matches the run's resolved config, the run is finished: the stage rewrites train.json from it and
trains nothing, whatever else changed (code, machine, a fresh clone). Delete generator.pt to retrain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cips.scale import load_params

log = logging.getLogger(__name__)


@dataclass
class Finished:
    """A run whose committed generator.pt already holds the model its resolved config asks for."""

    run: str
    path: Path
    info: dict


def finished_run(path: Path, resolved: dict) -> dict | None:
    """The train.json summary stored in generator.pt `path` if it was trained from `resolved`, else None."""
    from cips.models.checkpoint import torch_load_data

    if not path.is_file():
        return None
    try:
        gen = torch_load_data(path, mmap=True)
    except Exception as err:  # noqa: BLE001 - an unreadable file is retrained, never trusted
        log.warning("%s: unreadable (%s); training again", path, err)
        return None
    if not isinstance(gen, dict) or gen.get("resolved") != resolved:
        log.info("%s: trained from another config; training again", path)
        return None
    return gen.get("train_info")


def write_generator(checkpoint: Path, resolved: dict, info: dict, path: Path) -> Path:
    """generator.pt from a finished run's checkpoint: what evaluation and analysis read (G_ema only)."""
    from cips.models.checkpoint import load_checkpoint, save_atomic

    ckpt = load_checkpoint(checkpoint)
    save_atomic({k: ckpt[k] for k in ("format", "model", "g_ema", "step", "scale", "mlflow_run_id")}
                | {"resolved": resolved, "train_info": info}, path)
    return path


def train_from_params(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".", *, track: bool = True,
                      progress: bool = True):
    """Train run `run`; returns the TrainResult (train.json and generator.pt are written by rank 0), or
    Finished when runs/<run>/generator.pt already holds the run."""
    from cips.data.dataset import resolve_lmdb
    from cips.data.errors import DataError
    from cips.files import write_json_atomic
    from cips.layout import Layout
    from cips.resolve import resolved_run
    from cips.training.loop import train

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    cfg = params.run(run)
    resolved = resolved_run(params, run)["train"]
    info = finished_run(layout.generator(run), resolved)
    if info is not None:
        write_json_atomic(info, layout.train_info(run))
        return Finished(run, layout.generator(run), info)
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
        info = {
            "run": run, "group": cfg.group, "seed": cfg.train.seed, "dataset": cfg.dataset, "scale": params.scale,
            "arch": cfg.model.arch,
            "step": result.step, "steps": result.steps, "batch": cfg.train.batch,
            "img_per_s": round(result.img_per_s, 3), "wall_time_s": round(result.wall_time_s, 3),
            "params_g": result.params_g, "params_d": result.params_d,
            "resumed_from": result.resumed_from, "mlflow_run_id": result.mlflow_run_id,
            "max_rank_divergence": result.max_rank_divergence,
            "final": {k: round(v, 6) for k, v in result.last.items()},
            "curve": result.curve, "curve_seconds": round(result.curve_seconds, 3),
        }
        write_generator(layout.checkpoint(run), resolved, info, layout.generator(run))
        write_json_atomic(info, layout.train_info(run))
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
    if isinstance(result, Finished):
        print(f"{run}: finished earlier ({result.path} matches its resolved config); not retrained "
              f"(delete that file to retrain)")
        return 0
    print(f"{run}: step {result.step}/{result.steps}, {result.img_per_s:.1f} img/s, {result.wall_time_s:.1f} s")
    return 0
