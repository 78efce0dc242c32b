"""Stage reference@<dataset>: real-image features and FID statistics, once per dataset and protocol.

    python -m stages.reference DATASET [--params params.yaml] [--root .]

Reads data/<DATASET>/lmdb/<res>/ for every resolution of the dataset (base `eval` protocol), caches each
reference under data/<DATASET>/reference/<hash>.npz (kept across runs: a changed protocol computes a new
one, an old protocol is found again), bundles the current ones into data/<DATASET>/fid_ref.npz and writes
what defines them to data/<DATASET>/reference.json, the git-tracked file the evaluations depend on
(`cips.metrics.evaluate.references_from_params`).
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> str:
    from cips.metrics.evaluate import references_from_params

    refs, bundle = references_from_params(args.dataset, args.params, args.root)
    lines = [f"{args.dataset} {r.settings['resolution']}px: {r.settings['n_real']} reference + "
             f"{r.settings['n_floor']} floor images, key {r.key}" for r in refs]
    return "\n".join([*lines, f"wrote {bundle}"])


main = stage_main("stages.reference", __doc__, work, arg="dataset")

if __name__ == "__main__":
    sys.exit(main())
