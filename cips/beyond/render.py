"""Shared by the per-pixel figures: latents of seeds, per-layer styles, chunked rendering, uint8 arrays."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cips.images import to_uint8
from cips.sampling import latent

CHUNK = 65536  # points per sample per pass: bounds memory at any grid size (paper scale: 1024^2 grids)


def is_cips(g: nn.Module) -> bool:
    """A CIPS generator takes coordinates; StyleGAN2 renders only its own grid."""
    return hasattr(g, "encodings") and hasattr(g, "coord_system")


def require_cips(g: nn.Module, what: str, source: str = "checkpoint") -> None:
    if not is_cips(g):
        raise ValueError(f"{source}: {what} needs a CIPS generator (this one is {type(g).__name__})")


def device_of(g: nn.Module) -> torch.device:
    return next(g.parameters()).device


def latents(seeds: Sequence[int], dim: int) -> torch.Tensor:
    """(len(seeds), dim): z of each seed, the same z `cips sample` and the evaluation draw for it."""
    return torch.stack([latent(int(s), dim) for s in seeds])


@torch.no_grad()
def styles(g: nn.Module, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
    """Per-layer styles (B, num_ws, style_dim) of latents z, truncated toward the mean style."""
    z = z.to(device_of(g))
    center = g.mean_w() if truncation != 1.0 else None
    return g.expand_ws(z, truncation=truncation, truncation_w=center)


@torch.no_grad()
def render(g: nn.Module, ws: torch.Tensor, coords: torch.Tensor | None = None, chunk: int | None = CHUNK,
           batch: int = 8) -> torch.Tensor:
    """Images (B, 3, H, W) for a grid, or (B, N, 3) for point sets, with noise off; at most `batch` samples
    and `chunk` points per sample go through the network at once."""
    dev = device_of(g)
    outs = []
    for start in range(0, ws.shape[0], batch):
        w = ws[start:start + batch].to(dev)
        kw = {}
        if coords is not None:
            c = coords[start:start + batch] if coords.shape[0] == ws.shape[0] else coords.expand(
                w.shape[0], *coords.shape[1:])
            kw = {"coords": c.to(dev), "chunk": chunk}
        elif is_cips(g):
            kw = {"chunk": chunk}
        outs.append(g(ws=w, noise_mode="zero", **kw).float().cpu())
    return torch.cat(outs)


def timed(fn, repeats: int = 1) -> tuple[object, float]:
    """(result, best wall time in seconds of `repeats` calls): the minimum is the least disturbed by others."""
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return out, best


def hwc_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8, quantised as sample PNGs are written."""
    return to_uint8(images).permute(0, 2, 3, 1).numpy()


def unit(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) float64 in [0, 1] (clipped): what a viewer sees."""
    return ((images.double().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
