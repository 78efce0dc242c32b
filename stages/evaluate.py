"""Stage evaluate@<run>: FID, KID and precision/recall of a run's EMA generator.

    python -m stages.evaluate RUN [--params params.yaml] [--root .] [--no-track]

Writes runs/<RUN>/metrics.json and runs/<RUN>/eval_samples.png (`cips.metrics.evaluate.evaluate_from_params`).
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> str:
    from cips.metrics.evaluate import evaluate_from_params

    m = evaluate_from_params(args.run, args.params, args.root, track=not args.no_track).metrics
    line = (f"{args.run}: FID {m['fid']:.3f}, KID {m['kid']:.5f}, precision {m['precision']:.3f}, "
            f"recall {m['recall']:.3f}")
    if "floor" in m:
        line += f" (real-vs-real floor: FID {m['floor']['fid']:.3f})"
    return line


main = stage_main("stages.evaluate", __doc__, work, arg="run", track=True)

if __name__ == "__main__":
    sys.exit(main())
