"""Modulated-convolution forms of the StyleGAN2 generator, timed on this machine.

For every modulated convolution of the generator at a given size and batch, and for the whole
generator, times forward + backward with each exact form (``grouped``: per-sample weights, one
convolution with groups=B; ``act``: modulate activations, one plain convolution, demodulate outputs)
and prints the ratio grouped / act (> 1: act is faster). ``auto`` in cips/models/stylegan2.py
follows these numbers. For scale, the discriminator's step (forward + backward, and with the R1
double backward) is timed at the same size.

    python benchmarks/stylegan2.py                     # 32x32 batch 16 and 256x256 batch 4, defaults
    python benchmarks/stylegan2.py --case 32:16 --channel-base 4096 --channel-max 128
"""

from __future__ import annotations

import argparse
import time

import torch

from cips.models.discriminator import Discriminator
from cips.models.stylegan2 import StyleGAN2Generator

IMPLS = ("grouped", "act")


def timeit(fn, repeats: int) -> float:
    """Best of `repeats` wall-clock seconds after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def fwd_bwd(module, *inputs):
    def run():
        out = module(*inputs)
        out.float().square().mean().backward()
    return run


def r1_step(d, images):
    def run():
        (grad,) = torch.autograd.grad(d(images).sum(), images, create_graph=True)
        grad.square().sum().backward()
    return run


def layer_cases(g: StyleGAN2Generator, batch: int):
    """(name, module, input shape) of every distinct modulated convolution of g."""
    seen = set()
    res = 4
    convs = [("4x4 conv", g.conv.conv, res)]
    for block in g.blocks:
        convs += [(f"{res * 2}x up", block.conv0.conv, res), (f"{res * 2}x conv", block.conv1.conv, res * 2)]
        res *= 2
    for name, conv, r in convs:
        key = (tuple(conv.weight.shape), conv.up, r)
        if key in seen:
            continue
        seen.add(key)
        yield name, conv, (batch, conv.weight.shape[1], r, r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="SIZE:BATCH (repeatable); default 32:16 and 256:4")
    ap.add_argument("--channel-base", type=int, default=32768)
    ap.add_argument("--channel-max", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cases = [tuple(int(v) for v in c.split(":")) for c in (args.case or ["32:16", "256:4"])]
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"channel_base {args.channel_base}, channel_max {args.channel_max}; forward+backward, best of "
          f"{args.repeats}")
    torch.manual_seed(0)
    for size, batch in cases:
        g = StyleGAN2Generator(size, channel_base=args.channel_base, channel_max=args.channel_max).to(device)
        print(f"\n== {size}x{size}, batch {batch} ==")
        print(f"{'layer':<12} {'C_in->C_out':>12} {'grouped ms':>11} {'act ms':>9} {'grouped/act':>12}")
        for name, conv, shape in layer_cases(g, batch):
            x = torch.randn(shape, device=device, requires_grad=True)
            w = torch.randn(batch, g.style_dim, device=device)
            t = {}
            for impl in IMPLS:
                conv.impl = impl
                t[impl] = timeit(fwd_bwd(conv, x, w), args.repeats)
            conv.impl = "auto"
            io = f"{conv.weight.shape[1]}->{conv.weight.shape[0]}"
            print(f"{name:<12} {io:>12} {t['grouped'] * 1e3:>11.1f} {t['act'] * 1e3:>9.1f} "
                  f"{t['grouped'] / t['act']:>12.2f}")
        z = torch.randn(batch, g.style_dim, device=device)
        t = {}
        for impl in (*IMPLS, "auto"):
            g.set_modconv_impl(impl)
            t[impl] = timeit(fwd_bwd(g, z), args.repeats)
        print(f"{'generator':<12} {'':>12} {t['grouped'] * 1e3:>11.1f} {t['act'] * 1e3:>9.1f} "
              f"{t['grouped'] / t['act']:>12.2f}   (auto: {t['auto'] * 1e3:.1f} ms, "
              f"grouped/auto {t['grouped'] / t['auto']:.2f}, act/auto {t['act'] / t['auto']:.2f})")
        d = Discriminator(size, channel_base=args.channel_base, channel_max=args.channel_max).to(device)
        images = torch.randn(batch, 3, size, size, device=device, requires_grad=True)
        t_d, t_r1 = timeit(fwd_bwd(d, images), args.repeats), timeit(r1_step(d, images), args.repeats)
        print(f"discriminator forward+backward {t_d * 1e3:.1f} ms, R1 double backward {t_r1 * 1e3:.1f} ms "
              f"(R1 / plain {t_r1 / t_d:.2f})")


if __name__ == "__main__":
    main()
