"""Foveated synthesis (Fig. 8): rendered pixels are the full render's, the fill is exact where it can be,
the error shrinks as more is rendered."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cips import coords
from cips.beyond.foveated import fill, foveated, psnr
from cips.beyond.render import latents, render, styles
from cips.models.cips import CIPSGenerator


def make(**kw) -> CIPSGenerator:
    torch.manual_seed(0)
    g = CIPSGenerator(size=16, width=16, depth=4, style_dim=16, n_mlp=2, **kw).eval()
    with torch.no_grad():  # per-pixel noise that matters (it starts at zero strength), so leaving it on shows
        for layer in g.layers:
            layer.noise_strength.fill_(0.5)
    return g


def test_rendered_pixels_equal_the_full_render_and_full_is_exact():
    g = make()
    ws = styles(g, latents([3], g.style_dim))
    r = foveated(g, ws, (0.1, 0.5, 1.0), repeats=1)
    full = ((render(g, ws)[0].double().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(r.full, full, atol=1e-5)
    for img, mask in zip(r.images, r.masks, strict=True):
        np.testing.assert_allclose(img[mask], full[mask], atol=1e-5)  # pixels are independent
    assert r.masks[0].mean() == pytest.approx(0.1, abs=1 / 256) and r.masks[-1].all()
    assert math.isinf(r.psnr[-1]) and math.isnan(r.masked_l1[-1])
    assert np.isfinite(r.psnr[:2]).all() and (r.masked_l1[:2] > 0).all()
    assert r.psnr[1] > r.psnr[0]  # rendering more pixels brings the image closer to the full render
    assert (r.render_s > 0).all() and r.full_s > 0


def test_the_subset_is_denser_near_the_fixation_point():
    g = make()
    r = foveated(g, styles(g, latents([0], g.style_dim)), (0.25,), center=(-0.5, -0.5), spread=0.3, repeats=1)
    mask = r.masks[0]
    assert mask[:8, :8].mean() > 2 * mask[8:, 8:].mean()


def test_fill_keeps_known_pixels_and_reproduces_a_plane():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:16, 0:16].astype(float)
    plane = np.stack([0.02 * xx + 0.01 * yy, 0.5 - 0.01 * xx, 0.03 * yy], -1)
    mask = rng.random((16, 16)) < 0.3
    mask[[0, 0, -1, -1], [0, -1, 0, -1]] = True  # the corners: every pixel is inside the known points' hull
    out = fill(np.where(mask[..., None], plane, 0.0), mask)
    np.testing.assert_allclose(out[mask], plane[mask])
    np.testing.assert_allclose(out, plane, atol=1e-6)


def test_psnr_and_bad_input():
    a = np.zeros((4, 4, 3))
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    g = make()
    with pytest.raises(ValueError, match="fraction"):
        foveated(g, styles(g, latents([0], 16)), (0.0,))
    with pytest.raises(ValueError, match="one style"):
        foveated(g, styles(g, latents([0, 1], 16)), (0.5,))


def test_points_of_the_subset_are_grid_nodes():
    pts = coords.foveated_points(16, 0.3, generator=torch.Generator().manual_seed(0))
    _, mask = coords.points_to_image(pts, torch.ones(1, pts.shape[1], 1), 16)
    assert int(mask.sum()) == pts.shape[1]  # no two points land on one pixel
