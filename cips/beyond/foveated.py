"""Fig. 8, foveated synthesis: render only a Gaussian-sampled subset of the grid, fill the rest by
interpolation, and measure what it costs (error against the full render) and what it saves (time).

The subset is `cips.coords.foveated_points`: a fraction of the grid's nodes drawn without replacement with
probability proportional to a Gaussian around the fixation point. The paper's Fig. 8 uses std = 0.4 x image
size, i.e. 0.8 in coordinate units (the grid spans [-1, 1]); missing pixels are filled by cubic
interpolation (scipy's piecewise-cubic on the Delaunay triangulation of the rendered pixels; outside their
convex hull, the nearest rendered pixel).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cips import coords as coordsets
from cips.beyond.render import CHUNK, render, require_cips, timed

PAPER_FRACTIONS = (0.05, 0.25, 0.5, 1.0)
PAPER_SPREAD = 0.8  # 0.4 x image size, in coordinate units


@dataclass
class Foveated:
    fractions: np.ndarray  # (F,)
    images: np.ndarray  # (F, H, W, 3) in [0, 1]: rendered pixels, the rest interpolated
    masks: np.ndarray  # (F, H, W) bool: the pixels that were rendered
    full: np.ndarray  # (H, W, 3) in [0, 1]: the full render
    render_s: np.ndarray  # (F,) seconds to render the subset (best of `repeats`)
    fill_s: np.ndarray  # (F,) seconds to interpolate the rest
    full_s: float  # seconds to render the whole grid (best of `repeats`)
    psnr: np.ndarray  # (F,) dB against the full render, all pixels, images in [0, 1]
    masked_l1: np.ndarray  # (F,) mean |error| over the interpolated pixels only (NaN where there are none)
    fovea_psnr: np.ndarray  # (F,) dB within one std of the fixation point


def _one_blas_thread():
    """scipy's triangulation solves thousands of 2x2 systems through BLAS; with its threads competing for busy
    cores that took seconds instead of milliseconds here, so run it on one thread (threadpoolctl, a dependency
    of mlflow's scikit-learn, when present)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, C) image known where `mask` (H, W) is set -> every pixel, by cubic interpolation."""
    with _one_blas_thread():
        return _fill(values, mask)


def _fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from scipy.interpolate import griddata

    if mask.all():
        return values.copy()
    rows, cols = np.nonzero(mask)
    known = np.stack([rows, cols], 1).astype(np.float64)
    h, w = mask.shape
    qr, qc = np.nonzero(~mask)
    query = np.stack([qr, qc], 1).astype(np.float64)
    out = values.copy()
    vals = values[rows, cols]
    if len(known) >= 4:
        filled = griddata(known, vals, query, method="cubic")
    else:  # too few points for a triangulation
        filled = np.full((len(query), values.shape[-1]), np.nan)
    hole = np.isnan(filled).any(1)
    if hole.any():
        filled[hole] = griddata(known, vals, query[hole], method="nearest")
    out[qr, qc] = filled
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1] (inf when equal)."""
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


@torch.no_grad()
def foveated(g: nn.Module, ws: torch.Tensor, fractions: Sequence[float] = PAPER_FRACTIONS,
             center: tuple[float, float] = (0.0, 0.0), spread: float = PAPER_SPREAD, seed: int = 0,
             repeats: int = 3, chunk: int | None = CHUNK) -> Foveated:
    """Fig. 8 for one style ws (1, num_ws, style_dim): each fraction's image, mask, time and error."""
    require_cips(g, "foveated synthesis")
    if ws.shape[0] != 1:
        raise ValueError(f"foveated: one style at a time, got a batch of {ws.shape[0]}")
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"foveated: fraction {f} is not in (0, 1]")
    size = g.size
    # warm-up, untimed: the first pass and scipy's first interpolation pay one-off costs (imports, set-up)
    every = coordsets.grid(size).permute(0, 2, 3, 1).reshape(1, size * size, 2)  # row-major, like the image
    render(g, ws, every, chunk)
    fill(np.zeros((4, 4, 1)), np.eye(4, dtype=bool) | np.eye(4, dtype=bool)[::-1])
    # the full render goes through the same point-set path as the subsets, so their times compare
    full_t, full_s = timed(lambda: render(g, ws, every, chunk), repeats)
    full = ((full_t[0].double().clamp(-1, 1) + 1) / 2).reshape(size, size, 3).numpy()
    # the fovea: pixels within one std of the fixation point (where the gaze is)
    grid = coordsets.grid(size)[0].permute(1, 2, 0).numpy()
    fovea = ((grid - np.asarray(center)) ** 2).sum(-1) <= spread**2
    gen = torch.Generator().manual_seed(seed)
    images, masks, render_s, fill_s, psnrs, l1s, fpsnrs = [], [], [], [], [], [], []
    for f in fractions:
        points = coordsets.foveated_points(size, f, center, spread, batch=1, generator=gen)
        values, seconds = timed(lambda p=points: render(g, ws, p, chunk), repeats)
        img, mask = coordsets.points_to_image(points, values.double(), size)
        img = ((img[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
        mask = mask[0, 0].numpy() > 0
        filled, fill_seconds = timed(lambda i=img, m=mask: fill(i, m))
        images.append(filled)
        masks.append(mask)
        render_s.append(seconds)
        fill_s.append(fill_seconds)
        psnrs.append(psnr(filled, full))
        hole = ~mask
        l1s.append(float(np.abs(filled - full)[hole].mean()) if hole.any() else math.nan)
        fpsnrs.append(psnr(filled[fovea], full[fovea]))
    return Foveated(np.asarray(fractions, float), np.stack(images), np.stack(masks), full, np.asarray(render_s),
                    np.asarray(fill_s), float(full_s), np.asarray(psnrs), np.asarray(l1s), np.asarray(fpsnrs))
