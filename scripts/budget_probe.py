"""Budget probe: train finished small-scale models further, apart from runs/small, and test a claim again.

    python scripts/budget_probe.py OUT --steps 7500 --runs fashion-cips fashion-base --table table3

writes OUT/params.yaml (configs/small.yaml with train.steps = STEPS and each run's tables cut to TABLE),
copies runs/small/<member>/ of every seed of RUNS to OUT/runs/small/ (its checkpoint.pt, the full training
state that training leaves but git does not track, is continued from its step: train.steps is operational, so a
longer run resumes a shorter one; without it the member trains from step 0), runs each member's stages
(resolve, train, evaluate) in two lanes of one thread (`cips.training.lanes.run_lanes`, untracked and
uncommitted), then writes OUT/claims.md (`cips-report claims`) and
OUT/reports/small/figures/ (`cips-report figures`: the learning curves to STEPS, samples). runs/small, dvc.lock and
MLflow are not touched (--no-track): the scale's committed results stay what `dvc repro` recorded.

A recipe probe trains from step 0 (--fresh) with other train settings:

    python scripts/budget_probe.py OUT --steps 4000 --runs fashion-cips --seeds 0 --fresh \
        --set train.lr=0.004 train.eval_every=32 train.eval_n=2000 --stages resolve train
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from cips.files import write_bytes_atomic
from cips.layout import scale_config
from cips.scale import load_params, with_plan
from cips.training.lanes import run_lanes

ROOT = Path(__file__).resolve().parent.parent


def probe_params(steps: int, runs: list[str], table: str | None, sets: list[str] = (),
                 seeds: list[int] | None = None) -> str:
    """configs/small.yaml with train.steps = `steps`, the `sets` (SECTION.KEY=YAML) applied, `runs` keeping only
    `seeds`, and, when `table` is given, every run feeding only it."""
    src = scale_config(ROOT, "small")
    data = yaml.safe_load(src.read_text())
    unknown = [r for r in runs if r not in data["runs"]]
    if unknown:
        sys.exit(f"error: {src}: no run {', '.join(unknown)}")
    data["train"]["steps"] = steps
    for item in sets:
        key, sep, value = item.partition("=")
        section, _, name = key.partition(".")
        if not sep or section not in ("model", "train", "eval") or name not in data[section]:
            sys.exit(f"error: --set {item}: expected SECTION.KEY=VALUE with a key of model, train or eval")
        data[section][name] = yaml.safe_load(value)
    if seeds is not None:
        for r in runs:
            data["runs"][r]["seeds"] = seeds
    if table:
        for cfg in data["runs"].values():
            cfg["tables"] = {k: v for k, v in cfg.get("tables", {}).items() if k == table}
    return with_plan(yaml.safe_dump(data, sort_keys=False, width=120), f"{src} (probe: train.steps={steps})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="probe root (outside runs/small)")
    ap.add_argument("--steps", type=int, required=True, help="train.steps of the probe (batch 16: 1,000 = 16 kimg)")
    ap.add_argument("--runs", nargs="+", required=True, help="runs of configs/small.yaml (every seed is probed)")
    ap.add_argument("--table", help="keep only this table in each run's tables (one learning-curve panel)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", help="seeds of RUNS to probe (default: the config's)")
    ap.add_argument("--set", nargs="+", default=[], dest="sets", metavar="SECTION.KEY=VALUE",
                    help="settings of the probe, e.g. train.lr=0.004")
    ap.add_argument("--fresh", action="store_true", help="train from step 0, not from the scale's models")
    ap.add_argument("--stages", nargs="+", default=["resolve", "train", "evaluate"],
                    choices=["resolve", "train", "evaluate"])
    args = ap.parse_args()
    out = args.out.resolve()
    (out / "runs" / "small").mkdir(parents=True, exist_ok=True)
    text = probe_params(args.steps, args.runs, args.table, args.sets, args.seeds)
    params = write_bytes_atomic(text.encode(), out / "params.yaml")
    if not (out / "data").exists():
        (out / "data").symlink_to(ROOT / "data")
    # seed by seed across the runs, so that a probe cut short still holds complete pairs of seeds
    probe = load_params(params)
    per_run = [probe.members_of(r) for r in args.runs]
    members = [m for seed in itertools.zip_longest(*per_run) for m in seed if m]
    for m in members:
        src, dst = ROOT / "runs" / "small" / m, out / "runs" / "small" / m
        if src.is_dir() and not dst.exists() and not args.fresh:
            shutil.copytree(src, dst)
    # one thread per lane, as the scale's models were trained (two lanes on two cores)
    codes = list(run_lanes(args.jobs, params, out, members, logs=out, stages=tuple(args.stages), track=False,
                           commit=False, threads=1).values())
    report = str(Path(sys.executable).parent / "cips-report")
    where = ["--params", str(params), "--root", str(out), "--scale", "small"]
    claims = subprocess.run([report, "claims", *where], cwd=ROOT, capture_output=True, text=True)
    write_bytes_atomic(claims.stdout.encode(), out / "claims.md")
    subprocess.run([report, "figures", *where], cwd=ROOT, check=False)
    return max(codes + [claims.returncode])


if __name__ == "__main__":
    sys.exit(main())
