"""MLflow tracking: where the store is, one experiment per scale and dataset, the tags that tie a run to DVC.

Store: env `MLFLOW_TRACKING_URI`, else `sqlite:///<repository root>/mlflow.db` with artifacts under
`<repository root>/mlartifacts`. `dvc exp run --queue` executes stages in temporary copies under
`<root>/.dvc/tmp/exps/...`; the root is found above them, so every experiment lands in the one store.
Creating a fresh SQLite store from two processes at once fails, so creation and experiment lookup
happen under a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cips.config import RunConfig, flatten, to_dict

log = logging.getLogger(__name__)

PARAM_LIMIT = 6000  # MLflow's maximum length of a param value


def repository_root(start: str | Path | None = None) -> Path:
    """The project's root: above any `.dvc/tmp/exps/` copy, else the nearest parent with `.dvc` or `.git`."""
    path = Path(start or os.getcwd()).resolve()
    parts = path.parts
    if ".dvc" in parts:  # a queued experiment's temporary copy lives inside the real repository
        i = parts.index(".dvc")
        if parts[i + 1: i + 3] == ("tmp", "exps"):
            return Path(*parts[:i])
    for candidate in (path, *path.parents):
        if (candidate / ".dvc").is_dir() or (candidate / ".git").exists():
            return candidate
    return path


def tracking_uri(root: str | Path | None = None) -> str:
    """The MLflow store every stage writes to."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{repository_root(root) / 'mlflow.db'}"


def artifact_root(root: str | Path | None = None) -> str:
    return (repository_root(root) / "mlartifacts").as_uri()


def experiment_name(scale: str, dataset: str) -> str:
    return f"cips-{scale}-{dataset}"


@contextlib.contextmanager
def store_lock(root: str | Path | None = None) -> Iterator[None]:
    """Serialise store creation and experiment lookup between processes (parallel queued experiments)."""
    lock = repository_root(root) / ".mlflow.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def client(root: str | Path | None = None):
    """An MlflowClient on the project's store (created on first use, under the lock)."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(root)  # not mlflow.set_tracking_uri: it exports MLFLOW_TRACKING_URI to this process
    with store_lock(root):
        c = MlflowClient(uri)
        c.search_experiments(max_results=1)  # creates and migrates a fresh store while we hold the lock
    return c


def ensure_experiment(c, name: str, root: str | Path | None = None) -> str:
    with store_lock(root):
        exp = c.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None if os.environ.get("MLFLOW_TRACKING_URI") else f"{artifact_root(root)}/{name}"
        return c.create_experiment(name, artifact_location=location)


def git_state(root: str | Path | None = None) -> dict[str, str]:
    """Commit and dirty flag of the repository (empty where git is absent)."""
    cwd = str(repository_root(root))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        # what the pipeline itself rewrites while it runs (dvc.lock, results) does not make the code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!dvc.lock", ":!runs", ":!reports"], cwd=cwd,
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    if not commit:
        return {}
    return {"mlflow.source.git.commit": commit, "git.commit": commit, "git.dirty": str(bool(dirty)).lower()}


def stage_name(stage: str, scale: str, run: str) -> str:
    """The DVC stage of `run` (e.g. train@small-fashion-cips-s0), as dvc.yaml names it."""
    from cips.plan import stage_key

    return f"{stage}@{stage_key(scale, run)}"


def run_tags(run: RunConfig, scale: str, stage: str, root: str | Path | None = None) -> dict[str, str]:
    """Tags that link an MLflow run to its DVC stage, experiment and commit."""
    tags = {
        "cips.run": run.name,
        "cips.group": run.group or run.name,  # the seeds of one entry of runs share it: group by it in `mlflow ui`
        "cips.seed": str(run.train.seed),
        "cips.dataset": run.dataset,
        "cips.scale": scale,
        "cips.arch": run.model.arch,
        "dvc.stage": stage,
        "DVC_STAGE": stage,
    }
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if os.environ.get(var):
            tags[var] = os.environ[var]
    tags.update(git_state(root))
    return tags


def run_params(run: RunConfig, scale: str) -> dict[str, str]:
    """All resolved params with dotted names (the same names across runs, for `mlflow ui` comparisons)."""
    flat = flatten({"model": to_dict(run.model), "train": to_dict(run.train), "eval": to_dict(run.eval)})
    flat.update({"run": run.name, "dataset": run.dataset, "scale": scale})
    return {k: str(v)[:PARAM_LIMIT] for k, v in flat.items()}


def log_metric_batch(c, run_id: str, values: dict[str, float], step: int) -> None:
    """Several metrics at one step in one call."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    c.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])


class TrainingRun:
    """The MLflow run of one training: created once, continued on resume (same run id)."""

    def __init__(self, run: RunConfig, scale: str, run_id: str | None = None, root: str | Path | None = None,
                 log_system_metrics: bool = True) -> None:
        self.client = client(root)
        exp_id = ensure_experiment(self.client, experiment_name(scale, run.dataset), root)
        if run_id is not None:
            try:
                self.client.get_run(run_id)
            except Exception:  # the store was deleted or moved: start a new run
                log.warning("MLflow run %s not found in %s; starting a new one", run_id, tracking_uri(root))
                run_id = None
        if run_id is None:
            tags = run_tags(run, scale, stage_name("train", scale, run.name), root)
            created = self.client.create_run(exp_id, run_name=run.name, tags=tags)
            run_id = created.info.run_id
            items = list(run_params(run, scale).items())
            from mlflow.entities import Param

            for i in range(0, len(items), 100):
                self.client.log_batch(run_id, params=[Param(k, v) for k, v in items[i: i + 100]])
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id
        self._system = None
        if log_system_metrics:
            try:
                from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

                self._system = SystemMetricsMonitor(run_id, sampling_interval=10, samples_before_logging=1,
                                                    tracking_uri=tracking_uri(root))
                self._system.start()
            except Exception as err:  # optional: never fail a training for the monitor
                log.info("system metrics off: %s", err)
                self._system = None

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        log_metric_batch(self.client, self.run_id, metrics, step)

    def log_image(self, image: np.ndarray, name: str) -> None:
        self.client.log_image(self.run_id, image, artifact_file=name)

    def finish(self, status: str = "FINISHED") -> None:
        if self._system is not None:
            with contextlib.suppress(Exception):
                self._system.finish()
        self.client.set_terminated(self.run_id, status=status)


def log_evaluation(run_id: str | None, metrics: dict[str, Any], grid: np.ndarray | None = None,
                   root: str | Path | None = None, run: RunConfig | None = None, scale: str | None = None) -> str:
    """Put an evaluation's numbers (and their protocol, as tags) on the training run it evaluates.

    Without a training run (imported or untracked checkpoints) a run named "<run>-eval" is created.
    Returns the MLflow run id.
    """
    c = client(root)
    if run_id is not None:
        try:
            c.get_run(run_id)
        except Exception:  # the store was replaced since training
            run_id = None
    if run_id is None:
        name = metrics.get("run") or (run.name if run else "evaluation")
        dataset = metrics.get("dataset") or (run.dataset if run else "unknown")
        exp = ensure_experiment(c, experiment_name(scale or metrics.get("scale", "demo"), dataset), root)
        tags = (run_tags(run, scale or "demo", stage_name("evaluate", scale or "demo", name), root) if run
                else {"cips.run": name})
        run_id = c.create_run(exp, run_name=f"{name}-eval", tags=tags).info.run_id
        c.set_terminated(run_id)
    step = (metrics.get("checkpoint") or {}).get("step") or 0
    values = {k: metrics[k] for k in ("fid", "kid", "kid_std", "precision", "recall") if k in metrics}
    for k, v in (metrics.get("floor") or {}).items():
        if isinstance(v, int | float):
            values[f"floor_{k}"] = v
    log_metric_batch(c, run_id, values, int(step))
    for name, proto in (metrics.get("protocol") or {}).items():
        for k, v in flatten(proto, f"eval.protocol.{name}").items():
            c.set_tag(run_id, k, str(v)[:PARAM_LIMIT])
    c.set_tag(run_id, "dvc.evaluate_stage", stage_name("evaluate", metrics.get("scale") or scale or "demo",
                                                       metrics.get("run", "")))
    if grid is not None:
        c.log_image(run_id, grid, artifact_file="eval_samples.png")
    return run_id


def log_figures(run_id: str, figures: dict[str, Any], root: str | Path | None = None, folder: str = "beyond") -> bool:
    """Matplotlib figures as PNG artifacts `<folder>/<name>.png` of an existing run (False, with a log line,
    when the run is not in the store)."""
    c = client(root)
    try:
        c.get_run(run_id)
    except Exception:  # the store was replaced since training
        log.warning("MLflow run %s not found in %s; figures not logged", run_id, tracking_uri(root))
        return False
    for name, fig in figures.items():
        c.log_figure(run_id, fig, f"{folder}/{name}.png", save_kwargs={"dpi": 150, "bbox_inches": "tight"})
    return True
