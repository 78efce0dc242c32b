"""Stage prepare@<dataset>: params.yaml datasets.<dataset> -> data/<dataset>/lmdb/<resolution>/.

    python -m stages.prepare DATASET [--params params.yaml] [--root .] [--out DIR]
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> None:
    from cips.data.prepare import prepare_from_params

    prepare_from_params(args.dataset, args.params, args.out, root=args.root)


main = stage_main("stages.prepare", __doc__, work, arg="dataset", arg_help="an entry of datasets: in params.yaml",
                  out="default: data/<dataset>/lmdb under the root")

if __name__ == "__main__":
    sys.exit(main())
