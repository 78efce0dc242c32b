"""Stage encodings: the data of Figs. 3-6 from the CIPS-base run (and CIPS-NE for Fig. 3).

    python -m stages.encodings [--params params.yaml] [--out reports/data/encodings.npz]

params.yaml:
    analysis:
      encodings: {base: <run of CIPS-base>, ne: <run of CIPS-NE>, seed: 0}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cips.config import ConfigError, load_params


def run_stage(params_path: str | Path = "params.yaml", root: str | Path = ".",
              out: str | Path = "reports/data/encodings.npz") -> Path:
    from cips.files import save_npz_atomic
    from cips.metrics.encodings import encodings_figure_data
    from cips.models.checkpoint import load_generator

    root = Path(root)
    params = load_params(params_path)
    spec = params.analysis.encodings
    if not isinstance(spec, dict) or not spec.get("base"):
        raise ConfigError(f"{params_path}: analysis.encodings needs `base` (the run of CIPS-base)")
    unknown = set(spec) - {"base", "ne", "seed"}
    if unknown:
        raise ConfigError(f"{params_path}: analysis.encodings.{sorted(unknown)[0]}: unknown key "
                          "(known: base, ne, seed)")
    generators = {}
    for role in ("base", "ne"):
        run = spec.get(role)
        if not run:
            continue
        params.run(run)  # a clear error for an unknown run name
        ckpt = root / "runs" / run / "checkpoint.pt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{ckpt}: no checkpoint for analysis.encodings.{role} "
                                    f"(run `dvc repro train@{run}`)")
        generators[role] = load_generator(ckpt)
        if not hasattr(generators[role], "encodings"):
            raise ConfigError(f"{params_path}: analysis.encodings.{role}: run {run} is not a CIPS generator")
    data = encodings_figure_data(generators["base"], generators.get("ne"), seed=int(spec.get("seed", 0)))
    return save_npz_atomic(root / out, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.encodings", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".")
    parser.add_argument("--out", default="reports/data/encodings.npz")
    args = parser.parse_args(argv)
    try:
        path = run_stage(args.params, args.root, args.out)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
