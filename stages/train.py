"""Stage train@<run>: train one run of params.yaml into runs/<run>/checkpoint.pt and runs/<run>/train.json.

    python -m stages.train RUN [--params params.yaml] [--root .]
    torchrun --nproc_per_node=N -m stages.train RUN     # data-parallel, global batch = train.batch

A compatible checkpoint already in runs/<run>/ is continued (resume after a kill); SIGTERM/SIGINT save
one before exiting.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cips.config import ConfigError
from cips.training.runner import train_from_params


def main(argv: list[str] | None = None) -> int:
    from cips.training.loop import TrainingDiverged, TrainingInterrupted

    parser = argparse.ArgumentParser(prog="python -m stages.train", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an entry of runs: in params.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = train_from_params(args.run, args.params, args.root, track=not args.no_track)
    except TrainingInterrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return 143
    except (ConfigError, FileNotFoundError, TrainingDiverged, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.run}: step {result.step}/{result.steps}, {result.img_per_s:.1f} img/s, "
          f"{result.wall_time_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
