"""Training memory per sample at the paper's 256x256 widths, G and D included, and the batch_gpu that fits.

    python benchmarks/memory.py            # analytic: the bytes autograd saves for backward, on the meta device
    python benchmarks/memory.py --rss      # and a CPU check: peak RSS of one training step at batch 1 and 2

Analytic: one training step's two phases are traced on the meta device (no memory, no arithmetic) under
torch.autograd.graph.saved_tensors_hooks, which sees every tensor a backward pass will need. The D phase
is D on reals and fakes with R1's double backward (the fused step); the G phase is G then D on the fakes.
Distinct storages are counted once, parameters not at all. Per sample = (batch 2 - batch 1). batch_gpu: the
largest divisor of Table 1's batch 32 that fits. The fixed part
is the weights of G, G_ema and D with their gradients and Adam's two moments (fp32). A GPU also needs its
context and the workspace of its kernels (about 1-2 GB), hence the 85% rule for what fits.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import torch

from cips.config import ModelConfig
from cips.models import build_discriminator, build_generator
from cips.models.summary import OFFICIAL_CHANNELS
from cips.training.losses import d_logistic, g_nonsaturating, r1_penalty

CHUNK = 4096  # train.checkpoint_pixels of the recomputing row: 16 chunks of a 256x256 image
CONFIGS = {  # name: (model, train.checkpoint_pixels)
    "CIPS-skips, paper widths (512)": (ModelConfig(), None),
    "CIPS-skips, official widths (512 x 5, 256, 128)": (ModelConfig(channels=OFFICIAL_CHANNELS), None),
    "CIPS-base": (ModelConfig(skips=False), None),
    f"CIPS-skips, paper widths, checkpoint_pixels {CHUNK}": (ModelConfig(), CHUNK),
    "StyleGAN2": (ModelConfig(arch="stylegan2"), None),
}
GPU_GB = (24, 40, 80, 141)
USABLE = 0.85


def _saved_bytes(step, params: set[int]) -> int:
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        key = storage._cdata
        if key not in params:
            seen[key] = max(seen.get(key, 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def phase_bytes(cfg: ModelConfig, batch: int, device: str = "meta", chunk: int | None = None) -> dict[str, int]:
    """Bytes saved for backward by the D phase (with R1) and the G phase of one step of `batch` samples. With
    `chunk` (train.checkpoint_pixels) the G phase adds the one chunk whose activations backward recomputes."""
    with torch.device(device):
        g, d = build_generator(cfg), build_discriminator(cfg, size=cfg.size)
        z = torch.randn(batch, cfg.style_dim)
        reals = torch.randn(batch, 3, cfg.size, cfg.size)
    params = {p.untyped_storage()._cdata for net in (g, d) for p in net.parameters()}

    def d_phase() -> None:
        with torch.no_grad():
            fakes = g(z)
        r = reals.detach().requires_grad_(True)
        real_logits = d(r)
        loss = d_logistic(real_logits, d(fakes)) + r1_penalty(real_logits, r)
        if device != "meta":
            loss.backward()

    def g_phase() -> None:
        d.requires_grad_(False)
        loss = g_nonsaturating(d(g(z)))
        if device != "meta":
            loss.backward()
        d.requires_grad_(True)

    out = {"d": _saved_bytes(d_phase, params)}
    if chunk:
        g_alone = _saved_bytes(lambda: g(z), params)  # every activation of the MLP, kept
        g.checkpoint_chunk = chunk
        out["g"] = _saved_bytes(g_phase, params) + g_alone * chunk // (cfg.size * cfg.size)
    else:
        out["g"] = _saved_bytes(g_phase, params)
    return out


def fixed_bytes(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        n_g = sum(p.numel() for p in build_generator(cfg).parameters())
        n_d = sum(p.numel() for p in build_discriminator(cfg, size=cfg.size).parameters())
    return 4 * (5 * n_g + 4 * n_d)  # G: weight, grad, 2 moments, EMA copy; D: weight, grad, 2 moments


def analytic() -> list[dict]:
    rows = []
    for name, (cfg, chunk) in CONFIGS.items():
        one, two = phase_bytes(cfg, 1, chunk=chunk), phase_bytes(cfg, 2, chunk=chunk)
        per = {k: two[k] - one[k] for k in one}
        per_sample = max(per.values())
        fixed = fixed_bytes(cfg)
        fits = {gb: max(0, int((gb * 1e9 * USABLE - fixed) // per_sample)) for gb in GPU_GB}
        batch_gpu = {gb: max([d for d in (1, 2, 4, 8, 16, 32) if d <= n] or [0]) for gb, n in fits.items()}
        rows.append({"model": name, "per_sample_gb": per_sample / 1e9, "d_phase_gb": per["d"] / 1e9,
                     "g_phase_gb": per["g"] / 1e9, "fixed_gb": fixed / 1e9,
                     "batch_32_gb": (fixed + 32 * per_sample) / 1e9, "fits": fits,
                     "batch_gpu": batch_gpu})
    return rows


def _rss_child(name: str, batch: int, size: int) -> None:
    cfg, chunk = CONFIGS[name]
    cfg = ModelConfig(**{**cfg.__dict__, "size": size}) if size != cfg.size else cfg
    phase_bytes(cfg, batch, device="cpu", chunk=chunk and chunk * size * size // 65536)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def rss(name: str, size: int) -> tuple[float, float]:
    """Peak RSS (bytes) of a child process that runs both phases on CPU, at batch 1 and 2."""
    out = []
    for batch in (1, 2):
        cmd = [sys.executable, __file__, "--child", name, str(batch), str(size)]
        out.append(int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()[-1]))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rss", action="store_true", help="also measure peak RSS on CPU at batch 1 and 2 (slow)")
    ap.add_argument("--rss-size", type=int, default=256)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _rss_child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    rows = analytic()
    if args.rss:
        for r in rows:
            one, two = rss(r["model"], args.rss_size)
            r["rss_per_sample_gb"] = (two - one) / 1e9 * (256 / args.rss_size) ** 2
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'model':50s} {'GB/sample':>9s} {'D phase':>8s} {'G phase':>8s} {'fixed':>6s} {'batch 32':>9s}  "
          + "  ".join(f"{gb} GB: fits (batch_gpu)" for gb in GPU_GB) + ("  RSS GB/sample" if args.rss else ""))
    for r in rows:
        print(f"{r['model']:50s} {r['per_sample_gb']:9.2f} {r['d_phase_gb']:8.2f} {r['g_phase_gb']:8.2f} "
              f"{r['fixed_gb']:6.2f} {r['batch_32_gb']:9.1f}  "
              + "  ".join(f"{r['fits'][gb]:>12d} ({r['batch_gpu'][gb]:>2d})" for gb in GPU_GB)
              + (f"  {r['rss_per_sample_gb']:14.2f}" if args.rss else ""))


if __name__ == "__main__":
    main()
