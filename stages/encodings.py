"""Stage encodings: Figs. 3-6 data from the CIPS-base run (and CIPS-NE for Fig. 3).

    python -m stages.encodings [--params params.yaml] [--root .]

Reads the runs params.yaml's analysis.encodings names; writes reports/data/encodings.npz
(`cips.analysis.encodings.encodings_from_params`).
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> str:
    from cips.analysis.encodings import encodings_from_params

    return f"wrote {encodings_from_params(args.params, args.root)}"


main = stage_main("stages.encodings", __doc__, work)

if __name__ == "__main__":
    sys.exit(main())
