"""Generator forward+backward: our CIPS generator against the official method, same weights, same run.

The reference evaluates our state dict the way the official code does: NCHW feature maps and
per-sample modulated/demodulated weights applied as a grouped 1x1 convolution, bias + leaky ReLU as
separate ops. It is written from the paper's formula. Each (model, size) is timed in its own process
so peak memory (RSS on CPU, max allocated on CUDA) is that model's alone.

    python benchmarks/modfc.py                      # 64x64 and 256x256, width 512, depth 15
    python benchmarks/modfc.py --sizes 64 --impls auto,bmm,act --device cuda --dtype bf16

Rows: "reference" (the official method), "ours:<form>"; with --heap-reuse also both under the opt-in
allocator setting of cips.runtime ("ref+heap", "ours+heap"). Prints, per size: max relative difference of outputs and
gradients, time per iteration, the speed ratio (reference / row), achieved GFLOP/s against a plain
torch.matmul of the same FLOPs, and peak memory.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from cips.models.cips import CIPSGenerator

DEFAULT_BATCH = {64: 8, 128: 4, 256: 1}


def reference_forward(sd: dict, g: CIPSGenerator, ws: torch.Tensor) -> torch.Tensor:
    """CIPS-skips forward in the official style (grouped 1x1 convolutions over NCHW maps), no noise."""
    b, size = ws.shape[0], g.size

    def modconv(x, prefix, w, demodulate=True):
        cin = x.shape[1]
        weight = sd[f"{prefix}.fc.weight"] / math.sqrt(cin)
        mod = sd[f"{prefix}.fc.modulation.weight"]
        s = F.linear(w, mod / math.sqrt(mod.shape[1]), sd[f"{prefix}.fc.modulation.bias"])
        wt = weight.unsqueeze(0) * s.unsqueeze(1)  # (B, O, I)
        if demodulate:
            wt = wt * torch.rsqrt(wt.pow(2).sum(2, keepdim=True) + 1e-8)
        out = F.conv2d(x.reshape(1, b * cin, size, size), wt.reshape(-1, cin, 1, 1), groups=b)
        return out.view(b, -1, size, size)

    grid = g.grid.expand(b, -1, -1, -1)
    fourier = torch.sin(F.conv2d(grid, sd["fourier.weight"][..., None, None], sd["fourier.bias"]))
    emb = sd["embeddings.weight"].permute(2, 0, 1).unsqueeze(0).expand(b, -1, -1, -1)
    x = torch.cat([fourier, emb], 1)
    rgb = 0
    for i in range(len(g.layers)):
        x = F.leaky_relu(modconv(x, f"layers.{i}", ws[:, i]) + sd[f"layers.{i}.bias"].view(1, -1, 1, 1), 0.2)
        x = x * math.sqrt(2)
        if str(i) in g.to_rgbs:
            out = modconv(x, f"to_rgbs.{i}", ws[:, i], demodulate=False) + sd[f"to_rgbs.{i}.bias"].view(1, -1, 1, 1)
            rgb = rgb + out
    return rgb


def generator_flops(g: CIPSGenerator, batch: int) -> float:
    """Multiply-adds x2 of the per-point layers, forward + backward (3x forward)."""
    n = batch * g.size * g.size
    fwd = sum(2 * n * m.weight.shape[0] * m.weight.shape[1] for m in g.modules()
              if hasattr(m, "modulation"))
    return 3.0 * fwd


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(kind: str, impl: str, args: dict, path: str, result: str) -> None:
    from cips.runtime import tune_allocator

    tune_allocator()  # applies CIPS_HEAP_REUSE of this child process
    torch.set_num_threads(args["threads"])
    dev = torch.device(args["device"])
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args["dtype"]]
    blob = torch.load(path)
    g = CIPSGenerator(size=args["size"], width=args["width"], depth=args["depth"], style_dim=args["width"],
                      modfc=impl if kind == "ours" else "bmm", noise=False)
    g.load_state_dict(blob["sd"])
    g.to(dev)
    ws = blob["ws"].to(dev).requires_grad_(True)
    grad_out = blob["grad_out"].to(dev)
    params = dict(g.named_parameters())

    def step():
        for p in params.values():
            p.grad = None
        ws.grad = None
        with torch.autocast(dev.type, dtype=dtype, enabled=dtype != torch.float32):
            if kind == "ours":
                out = g(ws=ws, noise_mode="zero")
            else:
                out = reference_forward(params, g, ws)
        out.float().backward(grad_out)
        return out

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    base = rss_mb()
    out = step()
    times = []
    for _ in range(args["iters"]):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    grads = {"ws": ws.grad.float().cpu(),
             **{n: p.grad.float().cpu() for n, p in params.items() if p.grad is not None}}
    torch.save({"time": statistics.median(times), "peak_mb": peak, "out": out.detach().float().cpu(),
                "grads": grads}, result)


def run(kind: str, impl: str, args: dict, path: str, heap_reuse: bool = False) -> dict:
    ctx = mp.get_context("spawn")
    os.environ["CIPS_HEAP_REUSE"] = "1" if heap_reuse else "0"  # read by the child's tune_allocator()
    result = path + f".{kind}.{impl}.result"
    p = ctx.Process(target=_worker, args=(kind, impl, args, path, result))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f"{kind}:{impl} failed (exit code {p.exitcode})")
    res = torch.load(result)
    os.unlink(result)
    return res


def matmul_gflops(flops: float, device: str, threads: int) -> float:
    torch.set_num_threads(threads)
    n = 4096
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    reps = max(1, int(flops / (2 * n**3)))
    reps = min(reps, 50)
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest elementwise difference relative to the largest value."""
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def rel_norm(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||: for gradients, which are sums over all points (float32 rounding of the sum
    shows as large elementwise differences in entries that nearly cancel)."""
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-30)).item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="64,256")
    ap.add_argument("--batch", default=None, help="e.g. 64:8,256:1 (default: as fits on this CPU)")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--depth", type=int, default=15)
    ap.add_argument("--impls", default="auto", help="our ModFC forms to time: auto,bmm,act")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--heap-reuse", action="store_true", help="also time both with CIPS_HEAP_REUSE=1")
    a = ap.parse_args()
    batches = dict(DEFAULT_BATCH)
    if a.batch:
        batches.update({int(k): int(v) for k, v in (kv.split(":") for kv in a.batch.split(","))})
    print(f"device {a.device} ({a.threads} threads), {a.dtype}, width {a.width}, depth {a.depth}, "
          f"median of {a.iters} iterations after one warm-up")
    header = f"{'size':>5} {'batch':>5} {'model':>12} {'ms/iter':>9} {'speedup':>8} {'GFLOP/s':>8} " \
             f"{'% matmul':>8} {'peak MB':>8} {'mem ratio':>9} {'out rel':>9} {'grad nrm':>9}"
    print(header)
    for size in (int(s) for s in a.sizes.split(",")):
        batch = batches.get(size, 1)
        torch.manual_seed(0)
        g = CIPSGenerator(size=size, width=a.width, depth=a.depth, style_dim=a.width, noise=False)
        ws = g.expand_ws(torch.randn(batch, a.width)).detach()
        grad_out = torch.randn(batch, 3, size, size)
        args = dict(size=size, width=a.width, depth=a.depth, iters=a.iters, device=a.device, dtype=a.dtype,
                    threads=a.threads)
        flops = generator_flops(g, batch)
        with tempfile.NamedTemporaryFile(suffix=".pt") as f:
            torch.save({"sd": g.state_dict(), "ws": ws, "grad_out": grad_out}, f.name)
            del g
            ref = run("reference", "bmm", args, f.name)
            peak_matmul = matmul_gflops(flops, a.device, a.threads)
            rows = [("reference", ref)]
            rows += [(f"ours:{impl}", run("ours", impl, args, f.name)) for impl in a.impls.split(",")]
            if a.heap_reuse:  # both again with the opt-in allocator setting of cips.runtime
                rows += [("ref+heap", run("reference", "bmm", args, f.name, heap_reuse=True)),
                         ("ours+heap", run("ours", "auto", args, f.name, heap_reuse=True))]
        for name, r in rows:
            gflops = flops / r["time"] / 1e9
            grad = max(rel_norm(r["grads"][k], ref["grads"][k]) for k in ref["grads"])
            print(f"{size:>5} {batch:>5} {name:>12} {r['time'] * 1000:>9.1f} {ref['time'] / r['time']:>7.2f}x "
                  f"{gflops:>8.1f} {100 * gflops / peak_matmul:>7.0f}% {r['peak_mb']:>8.0f} "
                  f"{r['peak_mb'] / ref['peak_mb']:>9.2f} {rel_diff(r['out'], ref['out']):>9.1e} {grad:>9.1e}")
        print(f"      plain torch.matmul on this device: {peak_matmul:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
