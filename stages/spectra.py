"""Stage spectra: Fig. 7 data: mean spectra and azimuthal profiles of real and generated images.

    python -m stages.spectra [--params params.yaml] [--root .]

Reads the runs params.yaml's analysis.spectra names; writes reports/data/spectra.npz
(`cips.analysis.spectrum.spectra_from_params`).
"""

from __future__ import annotations

import argparse
import sys

from cips.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    from cips.analysis.spectrum import spectra_from_params

    parser = argparse.ArgumentParser(prog="python -m stages.spectra", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    args = parser.parse_args(argv)
    try:
        path = spectra_from_params(args.params, args.root)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
