"""The work of stage beyond: every per-pixel figure's data from the runs of this scale, written to
reports/data/beyond.npz, and each figure logged as a PNG artifact (`beyond/<name>.png`) of the MLflow training
run(s) it shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def beyond_from_params(params_path: str | Path = "params.yaml", root: str | Path = ".",
                       out: str | Path | None = None, track: bool = True) -> Path:
    """Compute (`cips.beyond.sections.compute`), write `out` (default reports/data/beyond.npz under project root
    `root`), and log the figures to MLflow unless `track` is False."""
    from cips.beyond.sections import compute
    from cips.config import EvalConfig, from_dict
    from cips.files import save_npz_atomic
    from cips.layout import Layout
    from cips.scale import load_params

    root = Path(root)
    params = load_params(params_path)
    device = from_dict(EvalConfig, params.eval, "eval").device
    data, used = compute(params, root, device)
    path = save_npz_atomic(Path(out) if out is not None else Layout(root, params.scale).report_data("beyond.npz"), data)
    if track:
        log_to_mlflow(data, used, params.scale, root)
    return path


def log_to_mlflow(data: dict[str, np.ndarray], used: dict, scale: str, root: Path) -> None:
    """Each figure as an artifact of every training run it shows (runs without an MLflow id are skipped)."""
    from cips.beyond.figures import SECTION, figures_of
    from cips.draw import scale_prefix
    from cips.tracking import log_figures

    figures = figures_of(data, scale_prefix(scale, comparable=scale == "paper"))
    by_run: dict[str, dict] = {}
    for key, sources in used.items():
        names = {n: f for n, f in figures.items() if n == SECTION[key] or n.startswith(SECTION[key] + "_")}
        for src in sources:
            if src.mlflow_run_id:
                by_run.setdefault(src.mlflow_run_id, {}).update(names)
    for run_id, figs in by_run.items():
        log_figures(run_id, figs, root)
