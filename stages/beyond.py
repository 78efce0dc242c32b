"""Stage beyond: the per-pixel figures' data (Figs. 8-11, 15, 17-19) from the runs of this scale.

    python -m stages.beyond [--params params.yaml] [--root .] [--out FILE.npz] [--no-track]

Which runs: by rule from `runs` (cips.beyond.subjects): the Table-1 CIPS run on `analysis.spectra.dataset`
(nearest neighbours search that dataset's FID reference features), the first cylindrical run, and the
Table-5 runs. Writes reports/data/beyond.npz for `cips-report build` and logs each figure as an artifact of
the MLflow training run(s) it shows (`cips.beyond.stage.beyond_from_params`).
"""

from __future__ import annotations

import sys
import time

from stages.entry import stage_main


def work(args) -> str:
    from cips.beyond.stage import beyond_from_params

    t0 = time.perf_counter()
    path = beyond_from_params(args.params, args.root, args.out, track=not args.no_track)
    return f"wrote {path} ({time.perf_counter() - t0:.1f} s)"


main = stage_main("stages.beyond", __doc__, work, out="default: reports/data/beyond.npz under --root", track=True)

if __name__ == "__main__":
    sys.exit(main())
