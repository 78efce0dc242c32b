"""Panoramas (Figs. 11, 17): a cylinder has no seam, per-pixel style blending is exact, wide cartesian grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cips import coords
from cips.beyond.panorama import blend_weight, blended, grid_x_unit, panorama_grid, seam, wide_grid
from cips.beyond.render import latents, render, styles
from cips.models.cips import CIPSGenerator

SMALL = dict(size=16, width=16, depth=4, style_dim=16, n_mlp=2)


def make(**kw) -> CIPSGenerator:
    torch.manual_seed(0)
    return CIPSGenerator(**SMALL, **kw).eval()


def unit(images: torch.Tensor) -> np.ndarray:
    return ((images.double().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()


def test_the_cylinder_wraps_around_without_a_seam():
    g = make(coords="cylindrical", panorama_width=40)
    ws = styles(g, latents([0, 1, 2], 16))
    grid = panorama_grid(g)
    assert grid.shape == (1, 2, 16, 40)
    pano = render(g, ws, grid)
    # the strip across the seam (last column, then the first) is what the cylinder gives there
    strip = render(g, ws, coords.cylinder_grid(16, 40, torch.full((3,), 39), 2))
    torch.testing.assert_close(strip[..., 0], pano[..., -1], atol=1e-5, rtol=0)
    torch.testing.assert_close(strip[..., 1], pano[..., 0], atol=1e-5, rtol=0)
    for img in unit(pano):  # so the seam differs like any two neighbouring columns
        s = seam(img)
        assert 0.5 < s.ratio < 2.0 and s.across <= s.neighbours_p95 * 1.5 and s.rank < 1.0


def test_seam_flags_a_discontinuity():
    x = np.linspace(0, 1, 32)
    ramp = np.broadcast_to(x[None, :, None], (8, 32, 3)).copy()  # smooth inside, a jump from 1 back to 0
    s = seam(ramp)
    assert s.rank == 1.0 and s.ratio > 10
    periodic = np.broadcast_to((0.5 + 0.4 * np.sin(2 * np.pi * np.arange(32) / 32))[None, :, None], (8, 32, 3))
    steepest = np.abs(np.diff(periodic, axis=1)).mean(axis=(0, 2)).max()
    assert seam(periodic).across == pytest.approx(steepest, rel=0.01)  # the seam lies where the slope is steepest
    with pytest.raises(ValueError, match="panorama"):
        seam(np.zeros((4, 2, 3)))


def test_blending_is_per_pixel():
    g = make(coords="cylindrical", panorama_width=24)
    ws = styles(g, latents([0, 1], 16))
    grid = panorama_grid(g)
    a, b = render(g, ws[:1], grid), render(g, ws[1:], grid)
    torch.testing.assert_close(blended(g, ws[:1], ws[1:], grid, torch.zeros(24)), a, atol=1e-5, rtol=0)
    torch.testing.assert_close(blended(g, ws[:1], ws[1:], grid, torch.ones(24)), b, atol=1e-5, rtol=0)
    weight = blend_weight(grid_x_unit(grid))
    assert weight[0] == pytest.approx(1.0) and weight[12] == pytest.approx(0.0, abs=1e-6)
    mixed = blended(g, ws[:1], ws[1:], grid, chunk=16 * 5)  # five columns per pass
    for j in (3, 12, 20):  # each column is the render of that column with its own style
        wj = (1 - weight[j]) * ws[:1] + weight[j] * ws[1:]
        torch.testing.assert_close(mixed[..., j], render(g, wj, grid)[..., j], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="one weight per column"):
        blended(g, ws[:1], ws[1:], grid, torch.ones(5))


def test_a_wide_grid_contains_the_training_grid():
    g = make()
    grid = wide_grid(16, 3.0)
    assert grid.shape == (1, 2, 16, 46)
    ws = styles(g, latents([5], 16))
    wide, plain = render(g, ws, grid), render(g, ws)
    torch.testing.assert_close(wide[..., 15:31], plain, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="not cylindrical"):
        panorama_grid(g)
