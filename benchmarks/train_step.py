"""Full training steps per second: CIPS-skips against StyleGAN2 at the paper's widths, same machine, same run.

A step is what `cips.training.loop.Trainer.train_step` does: D on G(z) and reals (R1 every `--r1-every`
steps), G with the non-saturating loss, the EMA update. Each (model, size) runs in its own process so
peak memory (RSS on CPU, max allocated on CUDA) is its own.

    python benchmarks/train_step.py                          # 64 and 256, CPU, paper widths
    python benchmarks/train_step.py --device cuda --batch 16 --steps 20

Prints img/s, ms per step, peak memory and the CIPS/StyleGAN2 time ratio; the official code's authors
report CIPS about 4.3x slower than StyleGAN2 at 256x256.
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


def _measure(arch: str, size: int, batch: int, steps: int, r1_every: int, device: str, queue) -> None:
    import torch
    from fixtures.toy import blob_images, write_lmdb

    from cips.config import parse_params
    from cips.training.loop import Trainer

    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    write_lmdb(root / "lmdb" / str(size), blob_images(max(32, batch), size, seed=0))
    params = parse_params({
        "scale": "paper",
        "model": {"arch": arch, "size": size},  # paper widths: 512 channels, depth 15, style 512, 8 mapping layers
        "train": {"batch": batch, "steps": steps + 1, "r1_every": r1_every, "device": device, "workers": 0},
        "eval": {},
        "datasets": {"bench": {"source": {"kind": "folder", "path": "x"}, "resolutions": [size]}},
        "runs": {"bench": {"dataset": "bench"}},
    })
    trainer = Trainer(params.run("bench"), root / "lmdb", root / "out", "paper", track=False, progress=False)
    trainer.train_step()  # warm-up (allocations, first R1 step)
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


def measure(arch: str, size: int, batch: int, steps: int, r1_every: int, device: str) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(arch, size, batch, steps, r1_every, device, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batch", type=int, default=None, help="default: per device and size")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--r1-every", type=int, default=4, help="R1 steps are included at this interval")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    print(f"device {args.device}; {args.steps} timed steps after one warm-up; R1 every {args.r1_every} steps")
    print(f"{'model':>10} {'size':>5} {'batch':>5} {'ms/step':>10} {'img/s':>8} {'peak MB':>9}")
    for size in args.sizes:
        batch = args.batch or DEFAULT_BATCH[kind].get(size, 2)
        rows = {arch: measure(arch, size, batch, args.steps, args.r1_every, args.device)
                for arch in ("stylegan2", "cips")}
        for arch, r in rows.items():
            print(f"{arch:>10} {size:>5} {batch:>5} {r['ms_per_step']:>10.1f} {r['img_per_s']:>8.2f} "
                  f"{r['peak_mb']:>9.0f}")
        ratio = rows["cips"]["ms_per_step"] / rows["stylegan2"]["ms_per_step"]
        note = f" (authors, official code, 256x256 GPU: {PUBLISHED_RATIO_256}x)" if size == 256 else ""
        print(f"{'':>10} {size:>5} CIPS/StyleGAN2 time per step: {ratio:.2f}x{note}")


if __name__ == "__main__":
    main()
