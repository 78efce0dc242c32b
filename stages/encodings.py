"""Stage encodings: Figs. 3-6 data from the CIPS-base run (and CIPS-NE for Fig. 3).

    python -m stages.encodings [--params params.yaml] [--root .]

Reads the runs params.yaml's analysis.encodings names; writes reports/data/encodings.npz
(`cips.analysis.encodings.encodings_from_params`).
"""

from __future__ import annotations

import argparse
import sys

from cips.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    from cips.analysis.encodings import encodings_from_params

    parser = argparse.ArgumentParser(prog="python -m stages.encodings", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    args = parser.parse_args(argv)
    try:
        path = encodings_from_params(args.params, args.root)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
