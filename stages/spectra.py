"""Stage spectra: Fig. 7 data, the mean spectrum and azimuthal profile of real and generated images.

    python -m stages.spectra [--params params.yaml] [--root .] [--out reports/data/spectra.npz]

params.yaml:
    analysis:
      spectra:
        dataset: ffhq                 # real images: data/<dataset>/lmdb/<size>/
        base: ffhq-base               # the runs of CIPS-base, CIPS-NE and StyleGAN2
        ne: ffhq-ne
        stylegan2: ffhq-stylegan2
        n: 5000                       # optional; default eval.spectra_n
The spectrum settings are the eval.spectrum_* fields (defaults after Durall et al. 2020).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cips.config import ConfigError, EvalConfig, from_dict, load_params

ROLES = {"base": "CIPS-base", "ne": "CIPS-NE", "stylegan2": "StyleGAN2"}  # key in params -> label


def run_stage(
    params_path: str | Path = "params.yaml",
    root: str | Path = ".",
    out: str | Path = "reports/data/spectra.npz",
) -> Path:
    from cips.metrics.evaluate import lmdb_path
    from cips.metrics.features import iter_dataset, iter_generated, open_images, resolve_device
    from cips.metrics.spectrum import SpectrumParams, save_spectra, spectrum_of
    from cips.models.checkpoint import load_generator

    root = Path(root)
    params = load_params(params_path)
    spec = params.analysis.spectra
    unknown = set(spec) - {"dataset", "n", *ROLES}
    if unknown:
        raise ConfigError(f"{params_path}: analysis.spectra.{sorted(unknown)[0]}: unknown key "
                          f"(known: dataset, n, {', '.join(ROLES)})")
    if not spec.get("dataset") or not any(spec.get(r) for r in ROLES):
        raise ConfigError(f"{params_path}: analysis.spectra needs `dataset` and at least one of {', '.join(ROLES)}")
    cfg = from_dict(EvalConfig, params.eval, "eval")
    n = int(spec.get("n") or cfg.spectra_n)
    p = SpectrumParams.from_eval(cfg)
    device = resolve_device(cfg.device)
    results, size = {}, None
    for role, label in ROLES.items():
        run = spec.get(role)
        if not run:
            continue
        params.run(run)  # a clear error for an unknown run
        checkpoint = root / "runs" / run / "checkpoint.pt"
        if not checkpoint.is_file():
            raise FileNotFoundError(f"{checkpoint}: no checkpoint for {label} (run `dvc repro train@{run}`)")
        G = load_generator(checkpoint).to(device)
        if size is not None and G.size != size:
            raise ValueError(f"analysis.spectra.runs: {run} makes {G.size}px images, the others {size}px")
        size = G.size
        results[label] = spectrum_of(
            iter_generated(G, n, cfg.batch, cfg.seed, cfg.truncation, device), p, total=n, desc=label
        )
    real = open_images(lmdb_path(spec["dataset"], size, root / "data"))
    count = min(n, len(real))
    results = {
        "real": spectrum_of(iter_dataset(real, range(count), cfg.batch), p, total=count, desc="real"),
        **results,
    }
    return save_spectra(root / out, results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.spectra", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".")
    parser.add_argument("--out", default="reports/data/spectra.npz")
    args = parser.parse_args(argv)
    try:
        path = run_stage(args.params, args.root, args.out)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
