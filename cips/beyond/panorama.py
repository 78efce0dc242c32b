"""Figs. 11 and 17: panoramas, the wrap-around seam, and per-pixel style blending along x.

A cylindrical generator renders the whole cylinder (`cips.coords.full_cylinder`); its last column and its
first are neighbours on the cylinder, so the difference across the seam should be what neighbouring columns
differ by elsewhere (`seam`). A cartesian generator has no cylinder: `wide_grid` renders it beyond the
training extent [-1, 1] in x (an extrapolation, not a panorama; it has no seam to measure).

Style blending is per pixel because every pixel is computed from its own coordinates and style alone: each
column is rendered with its own style w(x) = (1 - b(x)) w_a + b(x) w_b (all layers), with the weight of B
b(x) = (1 + cos(pi (x + 1))) / 2 over the panorama's x in [-1, 1): style A in the middle, B at the edges, as
in the paper's Fig. 11c, and periodic, so a blended cylinder stays seamless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cips import coords as coordsets
from cips.beyond.render import CHUNK, render, require_cips


def panorama_grid(g: nn.Module, rows: int | None = None) -> torch.Tensor:
    """(1, 2, H, W) coordinates of the whole cylinder at the training pixel density (H = rows)."""
    require_cips(g, "a panorama")
    if g.coord_system != "cylindrical":
        raise ValueError("panorama: the generator is not cylindrical (use wide_grid for a cartesian one)")
    rows = rows or g.size
    return coordsets.full_cylinder(rows, round(g.panorama_width * rows / g.size))


def wide_grid(size: int, widths: float = 3.0) -> torch.Tensor:
    """(1, 2, size, W): the training grid's rows, with x continued at the same spacing over `widths` image
    widths centred on the image (x beyond [-1, 1] is outside what the generator was trained on)."""
    step = 2.0 / (size - 1)
    n = int(round(widths * (size - 1))) + 1
    xs = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * step
    ys = torch.linspace(-1.0, 1.0, size)
    return torch.stack([xs.view(1, n).expand(size, n), ys.view(size, 1).expand(size, n)]).unsqueeze(0)


def grid_x_unit(grid: torch.Tensor) -> torch.Tensor:
    """The columns' x of a (1, 2, H, W) grid mapped to [-1, 1) across its width (for the blend weight)."""
    x = grid[0, 0, 0]
    return (x - x[0]) / (x[-1] - x[0] + (x[1] - x[0])) * 2 - 1


def blend_weight(x: torch.Tensor) -> torch.Tensor:
    """Weight of style B at column positions x in [-1, 1): 1 at the edges, 0 in the middle, periodic."""
    return (1 + torch.cos(math.pi * (x + 1))) / 2


@dataclass
class Seam:
    across: float  # mean |last column - first column| (the wrap-around), images in [0, 1]
    neighbours_mean: float  # mean over the other adjacent column pairs of the same
    neighbours_p95: float  # their 95th percentile
    rank: float  # share of the other pairs that differ less than the seam does (0.5: typical)

    @property
    def ratio(self) -> float:
        return self.across / self.neighbours_mean if self.neighbours_mean > 0 else math.nan


def seam(image: np.ndarray) -> Seam:
    """The wrap-around seam of an (H, W, 3) panorama in [0, 1] against its neighbouring columns."""
    if image.ndim != 3 or image.shape[1] < 3:
        raise ValueError(f"seam: expected an (H, W, 3) panorama at least 3 columns wide, got {image.shape}")
    cols = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))  # (W - 1,)
    across = float(np.abs(image[:, 0] - image[:, -1]).mean())
    return Seam(across, float(cols.mean()), float(np.percentile(cols, 95)), float((cols < across).mean()))


@torch.no_grad()
def blended(g: nn.Module, ws_a: torch.Tensor, ws_b: torch.Tensor, grid: torch.Tensor,
            weight: torch.Tensor | None = None, chunk: int | None = CHUNK) -> torch.Tensor:
    """(1, 3, H, W): each column j of `grid` (1, 2, H, W) rendered with style (1 - b_j) ws_a + b_j ws_b.

    Columns go through the network as samples of one column each (each with its own modulated weights),
    as many per pass as `chunk` points allow.
    """
    require_cips(g, "per-pixel style blending")
    _, _, h, w = grid.shape
    b = blend_weight(grid_x_unit(grid)) if weight is None else weight
    if b.shape != (w,):
        raise ValueError(f"blended: one weight per column expected ({w}), got {tuple(b.shape)}")
    b = b.to(ws_a).view(w, 1, 1)
    ws = (1 - b) * ws_a[:1] + b * ws_b[:1]  # (W, num_ws, style_dim)
    points = grid[0].permute(2, 1, 0)  # (W, H, 2): column j's points, top to bottom
    per_pass = max(1, (chunk or h * w) // h)
    cols = render(g, ws, points, chunk=None, batch=per_pass)  # (W, H, 3)
    return cols.permute(2, 1, 0).unsqueeze(0)
