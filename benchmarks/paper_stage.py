"""The `train@` stage at the paper's widths, end to end, on whatever device is there.

A throwaway project holds `configs/paper.yaml` with its two Table 1 FFHQ runs (CIPS-skips and StyleGAN2,
batch 32) and a toy 256x256 LMDB in FFHQ's place (speed does not depend on the pictures). For each
precision mode it runs the stage's own work (`stages.train`: LMDB loading, accumulation over `batch_gpu`,
EMA, checkpoint, samples, `generator.pt`, `train.json`) for `--steps` steps, and prints img/s (from
`train.json`), peak memory and the CIPS/StyleGAN2 ratio of step times at the same batch.

    python benchmarks/paper_stage.py --steps 200 --modes tf32,bf16 --out stage.json   # a GPU
    python benchmarks/paper_stage.py --tiny --steps 3 --modes fp32                    # CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # fixtures: toy LMDBs
sys.path.insert(0, str(REPO))

# scale: (its config, the dataset in the toy LMDB's place, CIPS and StyleGAN2 runs, Table 1's batch)
SCALES = {"paper": ("paper.yaml", "ffhq", ("ffhq-cips", "ffhq-stylegan2"), 32),
          "small": ("small.yaml", "fashion", ("fashion-cips", "fashion-stylegan2"), 16)}
MODES = {"fp32": (False, "none"), "tf32": (True, "none"), "bf16": (True, "bf16")}
TINY_MODEL = {"size": 16, "width": 16, "depth": 5, "style_dim": 16, "n_mlp": 2, "channel_base": 256,
              "channel_max": 16, "discriminator": {"channel_base": 256, "channel_max": 16, "mbstd_group": 2}}


def project(root: Path, scale: str, steps: int, batch: int, batch_gpu: int | None, mode: str, tiny: bool) -> Path:
    """params.yaml (the scale's, its two Table 1 runs kept, `mode`'s precision) and a toy LMDB under `root`."""
    from fixtures.toy import blob_images, write_lmdb

    from cips.layout import Layout

    config, dataset, runs, _ = SCALES[scale]
    params = yaml.safe_load((REPO / "configs" / config).read_text())
    tf32, amp = MODES[mode]
    params["runs"] = {name: {k: v for k, v in params["runs"][name].items() if k != "seeds"} for name in runs}
    params["datasets"] = {dataset: params["datasets"][dataset]}
    params.pop("analysis", None)  # analyses read runs this project does not have
    if tiny:
        params["model"].update({k: v for k, v in TINY_MODEL.items() if k != "discriminator"})
        params["model"]["discriminator"].update(TINY_MODEL["discriminator"])
        params["datasets"][dataset]["resolutions"] = [TINY_MODEL["size"]]
    params["train"].update({"steps": steps, "batch_gpu": batch_gpu, "tf32": tf32, "amp": amp, "workers": 2,
                            "checkpoint_every": steps, "sample_every": steps, "log_every": max(1, steps // 4),
                            "eval_every": None})
    for name in runs:
        params["runs"][name].setdefault("train", {}).update({"batch": batch, "steps": steps})
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    size = params["model"]["size"]
    write_lmdb(Layout(root, scale).lmdb(dataset, size), blob_images(256, size, seed=0))
    return path


def stage_run(run: str, scale: str, params: Path, root: Path, device: str) -> dict:
    """One `train@` stage's work, as `python -m stages.train RUN --no-track` does it; img/s and peak memory."""
    from cips.layout import Layout
    from cips.training.runner import train_command

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    code = train_command(run, params, root, track=False)
    seconds = time.perf_counter() - t0
    info_path = Layout(root, scale).train_info(run)
    if not info_path.is_file():  # stopped (a time limit's SIGTERM): the stage saved a checkpoint, no train.json
        raise SystemExit(f"{run}: the stage stopped (exit {code}) after {seconds:.0f} s without {info_path.name}")
    info = json.loads(info_path.read_text())
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"exit": code, "steps": info["step"], "batch": info["batch"], "batch_gpu": info["batch_gpu"],
            "img_per_s": info["img_per_s"], "stage_s": round(seconds, 1), "peak_gib": round(peak, 2),
            "machines": info.get("machines"), "final": info.get("final")}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="paper")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=None, help="global batch (default: the scale's Table 1 batch)")
    parser.add_argument("--batch-gpu", type=int, default=None, help="samples per pass (default: the batch)")
    parser.add_argument("--modes", default="tf32", help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--only", choices=("cips", "stylegan2"), default=None, help="one of the two runs")
    parser.add_argument("--tiny", action="store_true", help="16x16 tiny networks (a CPU smoke run)")
    parser.add_argument("--budget-s", type=float, default=600.0, help="no new run starts after this")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"--modes: {m!r} is not one of {', '.join(MODES)}")
    runs, batch = SCALES[args.scale][2], args.batch or SCALES[args.scale][3]
    chosen = [r for r in runs if args.only is None or r.endswith(f"-{args.only}")]
    t_start = time.perf_counter()
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "scale": args.scale,
                    "torch": torch.__version__, "steps": args.steps, "batch": batch, "tiny": args.tiny,
                    "rows": [], "skipped": []}
    print("| run | mode | batch (per pass) | steps | img/s | peak GiB |\n|---|---|---|---|---|---|", flush=True)
    for mode in modes:
        for run in chosen:
            if time.perf_counter() - t_start > args.budget_s:
                report["skipped"].append(f"{run} {mode}: time budget")
                continue
            root = Path(tempfile.mkdtemp(prefix=f"paper-stage-{mode}-"))
            params = project(root, args.scale, args.steps, batch, args.batch_gpu, mode, args.tiny)
            row = {"run": run, "mode": mode, **stage_run(run, args.scale, params, root, device)}
            report["rows"].append(row)
            print(f"| {run} | {mode} | {row['batch']} ({row['batch_gpu']}) | {row['steps']} | "
                  f"{row['img_per_s']:.1f} | {row['peak_gib']:.1f} |", flush=True)
    for mode in modes:
        rate = {r["run"]: r["img_per_s"] for r in report["rows"] if r["mode"] == mode}
        if len(rate) == 2:
            report[f"ratio_{mode}"] = rate[runs[1]] / rate[runs[0]]
            print(f"{mode}: a CIPS step takes {report[f'ratio_{mode}']:.2f}x a StyleGAN2 step (same batch)")
    for s in report["skipped"]:
        print(f"skipped: {s}")
    report["wall_s"] = round(time.perf_counter() - t_start, 1)
    if args.out:
        from cips.files import write_json_atomic

        write_json_atomic(report, args.out)
    return report


if __name__ == "__main__":
    main()
