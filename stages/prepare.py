"""DVC stage prepare@<dataset>: params.yaml datasets.<dataset> -> data/<dataset>/lmdb/<resolution>/."""

from __future__ import annotations

import argparse
import logging
import sys

from cips.config import ConfigError
from cips.data.errors import DataError
from cips.data.prepare import prepare_from_params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.prepare", description=__doc__)
    parser.add_argument("dataset", help="an entry of datasets: in params.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    parser.add_argument("--out", default=None, help="default data/<dataset>/lmdb under the root")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        prepare_from_params(args.dataset, args.params, args.out, root=args.root)
    except (ConfigError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
