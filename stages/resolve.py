"""Stage resolve@<run>: write what run RUN computes from, so DVC re-runs only what a change affects.

    python -m stages.resolve RUN [--params params.yaml] [--root .]

Writes runs/<RUN>/resolved/train.json and runs/<RUN>/resolved/eval.json: the run's identity
(`cips.resolve`). train@RUN and evaluate@RUN depend on these files instead of whole params sections:
`-S model.embeddings=false` re-trains only the runs whose resolved model changes.
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> str:
    from cips.resolve import resolve_from_params

    return "wrote " + ", ".join(str(p) for p in resolve_from_params(args.run, args.params, args.root))


main = stage_main("stages.resolve", __doc__, work, arg="run", arg_help="an entry of runs: in params.yaml")

if __name__ == "__main__":
    sys.exit(main())
