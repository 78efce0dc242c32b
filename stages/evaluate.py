"""Stage evaluate@<run>: FID, KID and precision/recall of a run's EMA generator.

    python -m stages.evaluate RUN [--params params.yaml] [--root .] [--no-track]

Writes runs/<RUN>/metrics.json and runs/<RUN>/eval_samples.png (`cips.metrics.evaluate.evaluate_from_params`).
"""

from __future__ import annotations

import argparse
import sys

from cips.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    from cips.metrics.evaluate import evaluate_from_params

    parser = argparse.ArgumentParser(prog="python -m stages.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="project root")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    try:
        result = evaluate_from_params(args.run, args.params, args.root, track=not args.no_track)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    m = result.metrics
    line = (f"{args.run}: FID {m['fid']:.3f}, KID {m['kid']:.5f}, precision {m['precision']:.3f}, "
            f"recall {m['recall']:.3f}")
    if "floor" in m:
        line += f" (real-vs-real floor: FID {m['floor']['fid']:.3f})"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
