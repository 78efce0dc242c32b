"""Stage resolve@<run>: write what run RUN computes from, so DVC re-runs only what a change affects.

    python -m stages.resolve RUN [--params params.yaml] [--root .]

Writes runs/<RUN>/resolved/train.json (dataset, model, train: without operational keys and without the
keys the run's architecture ignores) and runs/<RUN>/resolved/eval.json. train@RUN and evaluate@RUN
depend on these files instead of whole params sections: `-S model.embeddings=false` re-trains only the
runs whose resolved model changes.
"""

from __future__ import annotations

import argparse
import sys

from cips.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    from cips.resolve import resolve_from_params

    parser = argparse.ArgumentParser(prog="python -m stages.resolve", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="an entry of runs: in params.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    args = parser.parse_args(argv)
    try:
        paths = resolve_from_params(args.run, args.params, args.root)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
