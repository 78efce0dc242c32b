"""Stage train@<run>: train one run of params.yaml into runs/<run>/checkpoint.pt and runs/<run>/train.json.

    python -m stages.train RUN [--params params.yaml] [--root .] [--no-track]
    torchrun --nproc_per_node=N -m stages.train RUN     # data-parallel, global batch = train.batch

A compatible checkpoint already in runs/<run>/ is continued (resume after a kill); SIGTERM/SIGINT save
one before exiting (`cips.training.runner.train_command`, which `cips train` runs too).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from cips.training.runner import train_command

    parser = argparse.ArgumentParser(prog="python -m stages.train", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an entry of runs: in params.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    return train_command(args.run, args.params, args.root, track=not args.no_track)


if __name__ == "__main__":
    sys.exit(main())
