"""MLflow runs as tables: the list of runs, and the difference of two.

Runs are logged by training into experiments named `cips-<scale>-<dataset>`, run name = the run key of
params.yaml (tag `cips.run`), parameters flattened with dotted names (`model.embeddings`), metrics `fid`,
`kid`, `precision`, `recall`, `img_per_s`, ...
"""

from __future__ import annotations

import inspect
import math
import os
from pathlib import Path

import pandas as pd
from rich.table import Table as RichTable


class TrackingError(RuntimeError):
    """No tracking store, or no such run."""


def tracking_uri(root: str | Path = ".") -> str:
    """cips.tracking.tracking_uri() where the project has it, else $MLFLOW_TRACKING_URI, else
    sqlite:///<root>/mlflow.db."""
    try:
        from cips.tracking import tracking_uri as project_uri
    except ImportError:
        project_uri = None
    if project_uri is not None:
        return project_uri(root) if inspect.signature(project_uri).parameters else project_uri()
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(Path(root) / 'mlflow.db').resolve()}"


def search(root: str | Path = ".", experiment: str | None = None) -> pd.DataFrame:
    """Every run of every experiment (mlflow.search_runs), with an `experiment` column of names."""
    uri = tracking_uri(root)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise TrackingError(f"{uri.removeprefix('sqlite:///')}: no MLflow database (train a run first)")
    import mlflow

    mlflow.set_tracking_uri(uri)
    frame = mlflow.search_runs(search_all_experiments=True, output_format="pandas")
    if frame.empty:
        return frame
    names = {e.experiment_id: e.name for e in mlflow.MlflowClient().search_experiments()}
    frame["experiment"] = frame["experiment_id"].map(names).fillna("")
    if experiment:
        frame = frame[frame["experiment"].str.contains(experiment, regex=False)]
    return frame.sort_values("start_time", ascending=False).reset_index(drop=True)


def _get(row: pd.Series, *keys: str) -> object:
    for key in keys:
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and value is not pd.NaT:
            return value
    return None


def run_name(row: pd.Series) -> str:
    return str(_get(row, "tags.cips.run", "tags.mlflow.runName") or row["run_id"][:8])


def run_dataset(row: pd.Series) -> str:
    value = _get(row, "params.dataset", "tags.cips.dataset")
    if value is None and str(row.get("experiment", "")).startswith("cips-"):
        value = str(row["experiment"]).split("-", 2)[-1]  # cips-<scale>-<dataset>
    return str(value or "")


def run_flags(row: pd.Series) -> str:
    """'cips fourier embeddings skips', 'stylegan2', '... patch=16' from the model.* and train.* params."""
    def on(key: str) -> bool:
        return str(_get(row, f"params.model.{key}")) == "True"

    arch = str(_get(row, "params.model.arch") or "?")
    words = [arch]
    if arch == "cips":
        words += [k for k in ("fourier", "embeddings", "residual", "skips") if on(k)]
        if str(_get(row, "params.model.activation")) == "sine":
            words.append("sine")
    patch = _get(row, "params.train.patch")
    if patch not in (None, "None"):
        words.append(f"patch={patch}")
    return " ".join(words)


def wall_time(row: pd.Series) -> str:
    seconds = _get(row, "metrics.wall_time_s")
    if seconds is None:
        start, end = _get(row, "start_time"), _get(row, "end_time")
        seconds = (end - start).total_seconds() if start is not None and end is not None else None
    if seconds is None:
        return "—"
    minutes, sec = divmod(int(round(float(seconds))), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}"


def _num(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def runs_table(frame: pd.DataFrame) -> RichTable:
    table = RichTable(title="MLflow runs")
    for col in ("name", "experiment", "dataset", "flags", "steps", "FID", "wall time", "status", "run id"):
        table.add_column(col)
    for _, row in frame.iterrows():
        steps = _get(row, "metrics.step", "params.train.steps")
        table.add_row(run_name(row), str(row.get("experiment", "")), run_dataset(row), run_flags(row),
                      _num(steps, 0) if steps is not None else "—", _num(_get(row, "metrics.fid"), 2),
                      wall_time(row), str(row.get("status", "")), str(row["run_id"])[:8])
    return table


def find_run(frame: pd.DataFrame, key: str) -> pd.Series:
    """A run by id (or an unambiguous id prefix of at least 6 characters) or by name (the latest of that name)."""
    if frame.empty:
        raise TrackingError("no MLflow runs")
    by_id = frame[frame["run_id"] == key]
    if by_id.empty and len(key) >= 6:
        by_id = frame[frame["run_id"].str.startswith(key)]
    if len(by_id) == 1:
        return by_id.iloc[0]
    names = frame.apply(run_name, axis=1)
    by_name = frame[names == key]
    if not by_name.empty:
        return by_name.iloc[0]  # sorted newest first
    raise TrackingError(f"{key}: no MLflow run of that name or id")


def compare_table(frame: pd.DataFrame, a: str, b: str) -> RichTable:
    """Parameters that differ between runs `a` and `b`, then every metric of either with B - A."""
    ra, rb = find_run(frame, a), find_run(frame, b)
    na, nb = f"{run_name(ra)} ({ra['run_id'][:8]})", f"{run_name(rb)} ({rb['run_id'][:8]})"
    table = RichTable(title=f"{na} vs {nb}")
    for col in ("", "key", "A", "B", "B - A"):
        table.add_column(col)
    params = sorted(c for c in frame.columns if c.startswith("params."))
    for col in params:
        va, vb = _get(ra, col), _get(rb, col)
        if va != vb:
            table.add_row("param", col.removeprefix("params."), str(va), str(vb), "")
    for col in sorted(c for c in frame.columns if c.startswith("metrics.")):
        va, vb = _get(ra, col), _get(rb, col)
        if va is None and vb is None:
            continue
        diff = _num(float(vb) - float(va), 4) if va is not None and vb is not None else "—"
        table.add_row("metric", col.removeprefix("metrics."), _num(va, 4), _num(vb, 4), diff)
    return table
