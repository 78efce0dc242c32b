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
    from cips.training.loop import train

    root = Path(root)
    params = load_params(params_path)
    cfg = params.run(run)
    lmdb = root / "data" / cfg.dataset / "lmdb"
    if not lmdb.exists():
        raise FileNotFoundError(f"{lmdb}: no LMDB for dataset {cfg.dataset!r} (run `dvc repro prepare@{cfg.dataset}`)")
    try:
        resolve_lmdb(lmdb, cfg.model.size)
    except DataError as err:
        raise FileNotFoundError(f"{err} (datasets.{cfg.dataset}.resolutions must include model.size)") from None
    out_dir = root / "runs" / run
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
        }, out_dir / "train.json")
    return result
