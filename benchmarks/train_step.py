"""Full training steps per second: CIPS-skips against StyleGAN2 at the paper's widths, same machine, same run.

A step is what `cips.training.loop.Trainer.train_step` does: D on G(z) and reals (R1 every `--r1-every`
steps), G with the non-saturating loss, the EMA update. Each (model, size) runs in its own process so
peak memory (RSS on CPU, max allocated on CUDA) is its own.

    python benchmarks/train_step.py                          # 64 and 256, CPU, paper widths
    python benchmarks/train_step.py --device cuda --batch 16 --steps 20
    python benchmarks/train_step.py --params configs/small.yaml --threads 1 2 --compile   # the speed study

    python benchmarks/train_step.py --sizes 64 --checkpoint-pixels 512     # the cost of recomputing the MLP

Prints img/s, ms per step, peak memory and the CIPS/StyleGAN2 time ratio; the authors report CIPS about
4.3x slower than StyleGAN2 at 256x256 with their code on GPU
(https://github.com/advimman/CIPS/issues/1; not in the paper).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fixtures: toy images and LMDBs

PUBLISHED_RATIO_256 = 4.3
DEFAULT_BATCH = {"cpu": {64: 4, 128: 2, 256: 2}, "cuda": {64: 32, 128: 16, 256: 16}}


def _measure(arch: str, size: int, batch: int, steps: int, r1_every: int, device: str, queue,
             base: dict | None = None, threads: int | None = None, compile: bool = False) -> None:
    import torch
    from fixtures.toy import blob_images, write_lmdb

    from cips.config import deep_merge
    from cips.scale import parse_params
    from cips.training.loop import Trainer

    if threads:
        torch.set_num_threads(threads)
    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    write_lmdb(root / "lmdb" / str(size), blob_images(max(32, batch), size, seed=0))
    base = base or {}  # a params file's model/train sections (default: the paper's widths)
    params = parse_params({
        "scale": "paper",
        "model": deep_merge(base.get("model", {}), {"arch": arch, "size": size}),
        "train": deep_merge(base.get("train", {}), {"batch": batch, "steps": steps + 2, "r1_every": r1_every,
                                                    "device": device, "workers": 0, "compile": compile,
                                                    "eval_every": None}),
        "eval": {},
        "datasets": {"bench": {"source": {"kind": "folder", "path": "x"}, "resolutions": [size]}},
        "runs": {"bench": {"dataset": "bench"}},
    })
    trainer = Trainer(params.run("bench"), root / "lmdb", root / "out", "paper", track=False, progress=False)
    trainer.train_step()  # warm-up (allocations, first R1 step; compilation)
    trainer.train_step()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = (time.perf_counter() - t0) / steps
    queue.put({"arch": arch, "size": size, "batch": batch, "ms_per_step": seconds * 1000,
               "img_per_s": batch / seconds, "peak_mb": peak})


def measure(arch: str, size: int, batch: int, steps: int, r1_every: int, device: str, *, base: dict | None = None,
            threads: int | None = None, compile: bool = False, parallel: int = 1) -> dict:
    """Time `parallel` identical processes at once; img/s is their sum (the throughput of the machine)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_measure, args=(arch, size, batch, steps, r1_every, device, queue, base, threads,
                                                compile)) for _ in range(parallel)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    out = dict(results[0])
    out["ms_per_step"] = max(r["ms_per_step"] for r in results)
    out["img_per_s"] = sum(r["img_per_s"] for r in results)
    out["peak_mb"] = sum(r["peak_mb"] for r in results)
    return out


def speed_study(args: argparse.Namespace) -> None:
    """Threads x processes x compile at one params file's widths: which setting trains most images per second."""
    import yaml

    base = yaml.safe_load(Path(args.params).read_text())
    size, batch = base["model"]["size"], args.batch or base["train"]["batch"]
    cores = len(__import__("os").sched_getaffinity(0))
    print(f"{args.params}: {size}x{size}, batch {batch}, {cores} cores; {args.steps} timed steps after two warm-up")
    print(f"{'model':>10} {'threads':>7} {'procs':>5} {'compile':>7} {'ms/step':>9} {'img/s':>8} {'vs 1st':>7}")
    for arch in ("cips", "stylegan2"):
        ref = None
        for compile in ([False, True] if args.compile else [False]):
            for threads in args.threads:
                for procs in sorted({1, max(1, cores // threads)}):
                    r = measure(arch, size, batch, args.steps, args.r1_every, args.device, base=base,
                                threads=threads, compile=compile, parallel=procs)
                    ref = ref or r["img_per_s"]
                    print(f"{arch:>10} {threads:>7} {procs:>5} {str(compile):>7} {r['ms_per_step']:>9.1f} "
                          f"{r['img_per_s']:>8.1f} {r['img_per_s'] / ref:>6.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batch", type=int, default=None, help="default: per device and size")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--r1-every", type=int, default=4, help="R1 steps are included at this interval")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--params", help="speed study at this params file's widths and batch (threads, procs)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="with --params: torch threads")
    parser.add_argument("--compile", action="store_true", help="with --params: also time torch.compile")
    parser.add_argument("--checkpoint-pixels", type=int, help="also time CIPS with train.checkpoint_pixels N")
    args = parser.parse_args()
    if args.params:
        return speed_study(args)
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    print(f"device {args.device}; {args.steps} timed steps after one warm-up; R1 every {args.r1_every} steps")
    print(f"{'model':>10} {'size':>5} {'batch':>5} {'ms/step':>10} {'img/s':>8} {'peak MB':>9}")
    for size in args.sizes:
        batch = args.batch or DEFAULT_BATCH[kind].get(size, 2)
        rows = {arch: measure(arch, size, batch, args.steps, args.r1_every, args.device)
                for arch in ("stylegan2", "cips")}
        if args.checkpoint_pixels:
            rows["cips+recompute"] = measure("cips", size, batch, args.steps, args.r1_every, args.device,
                                             base={"train": {"checkpoint_pixels": args.checkpoint_pixels}})
        for arch, r in rows.items():
            print(f"{arch:>10} {size:>5} {batch:>5} {r['ms_per_step']:>10.1f} {r['img_per_s']:>8.2f} "
                  f"{r['peak_mb']:>9.0f}")
        ratio = rows["cips"]["ms_per_step"] / rows["stylegan2"]["ms_per_step"]
        note = f" (authors, official code, 256x256 GPU: {PUBLISHED_RATIO_256}x)" if size == 256 else ""
        print(f"{'':>10} {size:>5} CIPS/StyleGAN2 time per step: {ratio:.2f}x{note}")
        if args.checkpoint_pixels:
            r, c = rows["cips+recompute"], rows["cips"]
            time_ratio, peak_ratio = r["ms_per_step"] / c["ms_per_step"], r["peak_mb"] / c["peak_mb"]
            print(f"{'':>10} {size:>5} checkpoint_pixels {args.checkpoint_pixels}: {time_ratio:.2f}x the time, "
                  f"{peak_ratio:.2f}x the peak memory of CIPS")


if __name__ == "__main__":
    main()
