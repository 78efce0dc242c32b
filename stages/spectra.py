"""Stage spectra: Fig. 7 data: mean spectra and azimuthal profiles of real and generated images.

    python -m stages.spectra [--params params.yaml] [--root .]

Reads the runs params.yaml's analysis.spectra names; writes reports/data/spectra.npz
(`cips.analysis.spectrum.spectra_from_params`).
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> str:
    from cips.analysis.spectrum import spectra_from_params

    return f"wrote {spectra_from_params(args.params, args.root)}"


main = stage_main("stages.spectra", __doc__, work)

if __name__ == "__main__":
    sys.exit(main())
