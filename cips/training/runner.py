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


def finished_before(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".") -> Finished | None:
    """Finished when runs/<run>/generator.pt already holds the run its params resolve to."""
    from cips.layout import Layout
    from cips.resolve import resolved_run

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    info = finished_run(layout.generator(run), resolved_run(params, run)["train"])
    return None if info is None else Finished(run, layout.generator(run), info)


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
    finished = finished_before(run, params_path, root)
    if finished is not None:
        write_json_atomic(finished.info, layout.train_info(run))
        return finished
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
            "world_size": result.world_size, "batch_gpu": result.batch_gpu, "machines": result.machines,
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


def launch_command(run: str, nproc: int, params_path: str | Path, root: str | Path, track: bool,
                   device: str, cores: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The command and environment that train `run` in `nproc` processes of this machine through torch's
    elastic launcher (`torchrun --standalone`: a free local port, so lanes side by side do not collide)."""
    import os
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "stages.train", run, "--params", str(params_path), "--root", str(root)]
    env = dict(os.environ)
    if device != "cuda" and "OMP_NUM_THREADS" not in env:  # gloo processes share the cores
        cores = cores or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
        env["OMP_NUM_THREADS"] = str(max(1, cores // nproc))
    return cmd + ([] if track else ["--no-track"]), env


def _launch(run: str, params_path: str | Path, root: str | Path, track: bool, nproc: int | None) -> int | None:
    """Start `run`'s train.nproc processes and wait (their exit code); None when this process trains: one
    process, or already a worker of a launcher (WORLD_SIZE set, e.g. a multi-machine torchrun)."""
    import os
    import subprocess

    from cips.config import ConfigError
    from cips.runtime import resolve_device

    if "WORLD_SIZE" in os.environ:
        return None
    cfg = load_params(params_path).run(run)
    nproc = nproc or cfg.train.nproc
    if nproc == 1:
        return None
    if cfg.train.batch % nproc:
        raise ConfigError(f"runs.{run}.train.batch: {cfg.train.batch} is not divisible by {nproc} processes")
    device = resolve_device(cfg.train.device).type
    if device == "cuda":
        import torch

        if torch.cuda.device_count() < nproc:
            raise ConfigError(f"runs.{run}.train.nproc: {nproc} processes, one per GPU, but "
                              f"{torch.cuda.device_count()} GPUs are visible")
    cmd, env = launch_command(run, nproc, params_path, root, track, device)  # workers: WORLD_SIZE set
    log.info("%s: training in %d processes (%s)", run, nproc, "one per GPU" if device == "cuda" else "gloo, CPU")
    return subprocess.call(cmd, env=env)


def train_command(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".", track: bool = True,
                  nproc: int | None = None) -> int:
    """Train `run` as a command does (stage train@<run> and `cips train`): progress and one summary line on
    success, one error line otherwise; returns the exit code (143 when stopped by a signal). With
    train.nproc > 1 it starts that many processes, which run this same command as workers."""
    import logging
    import sys

    from cips.config import ConfigError
    from cips.training.loop import TrainingDiverged, TrainingInterrupted

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if finished_before(run, params_path, root) is None:
            code = _launch(run, params_path, root, track, nproc)
            if code is not None:
                return code
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
