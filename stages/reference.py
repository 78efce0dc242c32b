"""Stage reference@<dataset>: real-image features and FID statistics, once per dataset and protocol.

    python -m stages.reference DATASET [--params params.yaml] [--root .]

Reads data/<DATASET>/lmdb/<res>/ for every resolution of the dataset (base `eval` protocol), caches each
reference under data/<DATASET>/reference/<hash>.npz (kept across runs: a changed protocol computes a new
one, an old protocol is found again), and bundles the current ones into data/<DATASET>/fid_ref.npz, the
stage's declared output (`cips.metrics.evaluate.references_from_params`).
"""

from __future__ import annotations

import argparse
import sys

from cips.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    from cips.metrics.evaluate import references_from_params

    parser = argparse.ArgumentParser(prog="python -m stages.reference", description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    args = parser.parse_args(argv)
    try:
        refs, bundle = references_from_params(args.dataset, args.params, args.root)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for ref in refs:
        s = ref.settings
        print(f"{args.dataset} {s['resolution']}px: {s['n_real']} reference + {s['n_floor']} floor images, "
              f"key {ref.key}")
    print(f"wrote {bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
