"""GPU check: CIPS-skips against StyleGAN2 at 256x256 with the paper's widths, in one run of under 8 minutes.

For each generator it finds the largest batch that fits (fp32, doubling until out of memory), then
measures training img/s and peak memory at that batch in fp32, TF32 and bf16 autocast, eager and with
`torch.compile`; then a resume from a checkpoint written after 50 steps (the resumed run must continue at
step 50 with finite losses), and FID throughput: generated images through the FID Inception per second.
A time budget skips what no longer fits and says so. `--tiny` runs the same code at 16x16 with tiny
networks on the CPU, without the compile modes (the test suite runs it).

    python benchmarks/gpu_check.py --out gpu_check.json           # on a GPU machine
    python benchmarks/gpu_check.py --tiny --device cpu --out x.json

Prints one markdown table (what the README quotes) and writes every number as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fixtures: toy images and LMDBs

TINY_MODEL = {"size": 16, "width": 16, "depth": 5, "style_dim": 16, "n_mlp": 2, "channel_base": 256,
              "channel_max": 16, "discriminator": {"channel_base": 256, "channel_max": 16, "mbstd_group": 2}}
MODES = [("fp32", False, "none", False), ("tf32", True, "none", False), ("bf16", True, "bf16", False),
         ("fp32+compile", False, "none", True), ("bf16+compile", True, "bf16", True)]


def _params(arch: str, model: dict, batch: int, steps: int, device: str, amp: str = "none", tf32: bool = False,
            compile_: bool = False) -> dict:
    from cips.scale import parse_params

    size = model["size"]
    return parse_params({
        "scale": "paper",
        "model": {**model, "arch": arch},
        "train": {"batch": batch, "steps": steps, "device": device, "workers": 0, "amp": amp, "tf32": tf32,
                  "compile": compile_, "checkpoint_every": steps, "log_every": steps, "sample_every": steps,
                  "r1_step": "separate", "g_reg_every": 4, "r1_gamma": 10.0},
        "eval": {},
        "datasets": {"bench": {"source": {"kind": "folder", "path": "x"}, "resolutions": [size]}},
        "runs": {"bench": {"dataset": "bench"}},
    }).run("bench")


class _Project:
    """A temporary LMDB of toy images at the benchmark's size."""

    def __init__(self, size: int) -> None:
        from fixtures.toy import blob_images, write_lmdb

        self.root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
        self.lmdb = self.root / "lmdb" / str(size)
        write_lmdb(self.lmdb, blob_images(64, size, seed=0))


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def training_speed(arch: str, model: dict, batch: int, steps: int, device: str, project: _Project,
                   amp: str = "none", tf32: bool = False, compile_: bool = False) -> dict:
    """img/s and peak memory of `steps` training steps after two warm-up steps (an R1 step among them)."""
    from cips.training.loop import Trainer

    _reset(device)
    run = _params(arch, model, batch, steps + 2, device, amp, tf32, compile_)
    out = project.root / f"speed-{arch}-{batch}-{amp}-{tf32}-{compile_}"
    trainer = Trainer(run, project.lmdb, out, "paper", track=False, progress=False)
    for _ in range(2):
        trainer.train_step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    _sync(device)
    seconds = time.perf_counter() - t0
    result = {"batch": batch, "img_per_s": batch * steps / seconds, "peak_mb": _peak_mb(device)}
    del trainer
    _reset(device)
    return result


def largest_batch(arch: str, model: dict, device: str, project: _Project, start: int, limit: int) -> int:
    """The largest power-of-two batch (from `start`, at most `limit`) that trains a step in fp32."""
    best, batch = 0, start
    while batch <= limit:
        try:
            training_speed(arch, model, batch, 1, device, project)
        except RuntimeError as err:
            if not _is_oom(err):
                raise
            _reset(device)
            break
        best, batch = batch, batch * 2
    if not best:
        raise RuntimeError(f"{arch}: batch {start} does not fit on {device}")
    return best


def resume_check(model: dict, device: str, project: _Project, steps: int, batch: int) -> dict:
    """Train `steps` steps, then start a new trainer on the same folder: it must continue at that step."""
    from cips.training.loop import Trainer

    out = project.root / "resume"
    first = Trainer(_params("cips", model, batch, steps, device), project.lmdb, out, "paper", track=False,
                    progress=False)
    t0 = time.perf_counter()
    first.run()
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = Trainer(_params("cips", model, batch, steps + 1, device), project.lmdb, out, "paper", track=False,
                    progress=False)
    load_s = time.perf_counter() - t0
    losses = again.train_step()
    ok = again.resumed_from == steps and again.step == steps + 1 and all(
        torch.isfinite(torch.tensor(v)) for v in losses.values())
    return {"steps": steps, "resumed_from": again.resumed_from, "train_s": train_s, "load_s": load_s, "ok": ok}


def fid_throughput(model: dict, device: str, n: int, batch: int) -> dict:
    """Generated images through the FID Inception per second (generation included)."""
    from cips.config import EvalConfig
    from cips.metrics.evaluate import load_networks
    from cips.metrics.features import extract
    from cips.models import build_generator
    from cips.models.cips import CIPSGenerator  # noqa: F401 (the generator under test)
    from cips.sampling import iter_generated

    run = _params("cips", model, 1, 1, device)
    dev = torch.device(device)
    G = build_generator(run.model).to(dev).eval().requires_grad_(False)
    inc, _ = load_networks(EvalConfig(prc_features="inception", device=device), dev)
    _sync(device)
    t0 = time.perf_counter()
    feats = extract(iter_generated(G, n, batch, 0, 1.0, dev), [inc], total=n, progress=False)
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"n": n, "batch": batch, "img_per_s": n / seconds, "seconds": seconds,
            "features": list(next(iter(feats.values())).shape)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="16x16, tiny networks (a CPU smoke run)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip what would start after this")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help=(
                        "also the torch.compile modes (default: on; off with --tiny, compiling costs minutes on CPU)"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    with_compile = not args.tiny if args.compile is None else args.compile
    t_start = time.perf_counter()
    model = TINY_MODEL if args.tiny else {"size": 256}  # paper widths are the defaults
    steps = args.steps or (2 if args.tiny else 10)
    limits = (2, 8) if args.tiny else (4, 256)
    resume_steps, fid_n = (4, 32) if args.tiny else (50, 10_000)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda but no CUDA device")
    project = _Project(model["size"])
    report: dict = {
        "date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(0)
        if device.startswith("cuda") else f"CPU ({platform.processor() or platform.machine()})",
        "torch": torch.__version__, "size": model["size"], "tiny": args.tiny, "training": {}, "skipped": [],
    }

    def left() -> float:
        return args.budget_s - (time.perf_counter() - t_start)

    for arch in ("cips", "stylegan2"):
        batch = largest_batch(arch, model, device, project, *limits)
        print(f"{arch}: largest fp32 batch {batch}", flush=True)
        rows = report["training"][arch] = {"largest_fp32_batch": batch}
        for name, tf32, amp, compile_ in MODES:
            if left() <= 0:
                report["skipped"].append(f"{arch} {name}: time budget")
                continue
            if compile_ and not with_compile:
                report["skipped"].append(f"{arch} {name}: --no-compile")
                continue
            if device == "cpu" and (tf32 and amp == "none"):
                report["skipped"].append(f"{arch} {name}: TF32 is a CUDA setting")
                continue
            try:
                rows[name] = r = training_speed(arch, model, batch, steps, device, project, amp, tf32, compile_)
                # printed as measured: a run stopped by its time limit still leaves what it found
                print(f"{arch} {name}: batch {r['batch']}, {r['img_per_s']:.1f} img/s, peak {r['peak_mb']:.0f} MB",
                      flush=True)
            except Exception as err:  # noqa: BLE001 - a mode the machine lacks (compile, bf16) is reported
                report["skipped"].append(f"{arch} {name}: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
    report["resume"] = resume_check(model, device, project, resume_steps, limits[0])
    if left() > 0:
        from cips.metrics.inception import WeightsError

        try:
            report["fid"] = fid_throughput(model, device, fid_n, 8 if args.tiny else 250)
        except WeightsError as err:  # a machine without the Inception weights (84 MB) still gets the rest
            report["skipped"].append(f"fid: {str(err)[:160]}")
    else:
        report["skipped"].append("fid: time budget")
    report["wall_s"] = time.perf_counter() - t_start

    print(f"GPU check, {report['date']}, {report['device']}, torch {report['torch']}, {model['size']}x{model['size']}")
    print("| model | mode | batch | img/s | peak MB |\n|---|---|---|---|---|")
    for arch, rows in report["training"].items():
        for name, r in rows.items():
            if isinstance(r, dict):
                print(f"| {arch} | {name} | {r['batch']} | {r['img_per_s']:.1f} | {r['peak_mb']:.0f} |")
    r = report["resume"]
    print(f"resume after {r['steps']} steps: continued at step {r['resumed_from']}, ok={r['ok']} "
          f"(load {r['load_s']:.1f} s)")
    if "fid" in report:
        print(f"FID throughput: {report['fid']['img_per_s']:.0f} generated img/s through Inception "
              f"({report['fid']['n']} images, {report['fid']['seconds']:.1f} s)")
    for s in report["skipped"]:
        print(f"skipped: {s}")
    print(f"wall time {report['wall_s']:.0f} s")
    if args.out:
        from cips.files import write_json_atomic

        write_json_atomic(report, args.out)
    return report


if __name__ == "__main__":
    main()
