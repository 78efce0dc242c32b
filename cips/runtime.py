"""Process-wide settings that make CPU tensor code faster.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh mmap and returns it
with munmap on free, so each large temporary tensor is page-faulted and zeroed by the kernel again: on a
2-core CPU this costs about 25% of a CIPS training step at 64x64 (width 512). Keeping large blocks on the
heap for reuse removes that, at the price of a higher peak RSS (fragmentation: +50% at 64x64, +70% at
256x256 in benchmarks/modfc.py). Opt-in: set CIPS_HEAP_REUSE=1.
"""

from __future__ import annotations

import ctypes
import os
import sys

import torch

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_done = False


def tune_allocator() -> bool:
    """With CIPS_HEAP_REUSE=1, keep freed large blocks for reuse (glibc only); True if applied."""
    global _done
    if _done or os.environ.get("CIPS_HEAP_REUSE") != "1" or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL("libc.so.6")
        _done = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        _done = False
    return _done


def machine(device: torch.device) -> dict:
    """What a stretch of training ran on: float results differ between CPU models and GPUs, so a run that
    continued on another machine is bit for bit repeatable only stretch by stretch."""
    name = None
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        try:
            with open("/proc/cpuinfo") as f:
                name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
        except OSError:
            pass
    import platform

    return {"device": device.type, "name": name or platform.processor() or "unknown", "torch": str(torch.__version__),
            "threads": torch.get_num_threads()}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when present, else the CPU; anything else as torch names it."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
