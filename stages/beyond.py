"""Stage beyond: the per-pixel figures' data (Figs. 8-11, 15, 17-19) from the runs of this scale.

    python -m stages.beyond [--params params.yaml] [--root .] [--out FILE.npz] [--no-track]

Which runs: by rule from `runs` (cips.beyond.subjects): the Table-1 CIPS run on `analysis.spectra.dataset`
(nearest neighbours search that dataset's FID reference features), the first cylindrical run, and the
Table-5 runs. Writes the arrays for `cips-report build` and logs each figure as a PNG artifact
(`beyond/<name>.png`) of the MLflow training run(s) it shows.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from cips.config import ConfigError, EvalConfig, from_dict, load_params


def run_stage(params_path: str | Path = "params.yaml", root: str | Path = ".", out: str | Path | None = None,
              track: bool = True) -> Path:
    from cips.beyond.sections import compute
    from cips.files import save_npz_atomic
    from cips.layout import Layout

    root = Path(root)
    params = load_params(params_path)
    device = from_dict(EvalConfig, params.eval, "eval").device
    data, used = compute(params, root, device)
    path = save_npz_atomic(Path(out) if out is not None else Layout(root).report_data("beyond.npz"), data)
    if track:
        log_to_mlflow(data, used, params.scale, root)
    return path


def log_to_mlflow(data: dict, used: dict, scale: str, root: Path) -> None:
    """Each figure as an artifact of every training run it shows (runs without an MLflow id are skipped)."""
    from cips.report.beyond import SECTION, figures_of
    from cips.tracking import log_figures

    prefix = "" if scale == "paper" else f"{scale.upper()} scale, not comparable with the paper. "
    figures = figures_of(data, prefix)
    by_run: dict[str, dict] = {}
    for key, sources in used.items():
        names = {n: f for n, f in figures.items() if n == SECTION[key] or n.startswith(SECTION[key] + "_")}
        for src in sources:
            if src.mlflow_run_id:
                by_run.setdefault(src.mlflow_run_id, {}).update(names)
    for run_id, figs in by_run.items():
        log_figures(run_id, figs, root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.beyond", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".")
    parser.add_argument("--out", default=None, help="default: reports/data/beyond.npz under --root")
    parser.add_argument("--no-track", action="store_true", help="do not log the figures to MLflow")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    try:
        path = run_stage(args.params, args.root, args.out, track=not args.no_track)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
