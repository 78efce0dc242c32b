"""Stage beyond: the per-pixel figures' data (Figs. 8-11, 15, 17-19) from the runs of this scale.

    python -m stages.beyond [--params params.yaml] [--root .] [--out FILE.npz] [--no-track]

Which runs: by rule from `runs` (cips.beyond.subjects): the Table-1 CIPS run on `analysis.spectra.dataset`
(nearest neighbours search that dataset's FID reference features), the first cylindrical run, and the
Table-5 runs. Writes reports/data/beyond.npz for `cips-report build` and logs each figure as an artifact of
the MLflow training run(s) it shows (`cips.beyond.stage.beyond_from_params`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from cips.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    from cips.beyond.stage import beyond_from_params

    parser = argparse.ArgumentParser(prog="python -m stages.beyond", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    parser.add_argument("--out", default=None, help="default: reports/data/beyond.npz under --root")
    parser.add_argument("--no-track", action="store_true", help="do not log the figures to MLflow")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    try:
        path = beyond_from_params(args.params, args.root, args.out, track=not args.no_track)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
