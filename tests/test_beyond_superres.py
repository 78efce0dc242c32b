"""Super-resolution by a denser grid (Fig. 9): the 1x image is the plain render, denser grids share its
corners, Lanczos adds no power above the 1x Nyquist radius."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cips.beyond.render import latents, render, styles
from cips.beyond.superres import lanczos_upsample, power_beyond, super_resolution
from cips.models.cips import CIPSGenerator


def make() -> CIPSGenerator:
    torch.manual_seed(0)
    return CIPSGenerator(size=16, width=16, depth=4, style_dim=16, n_mlp=2).eval()


def test_denser_grids_over_the_same_extent():
    g = make()
    ws = styles(g, latents([1], g.style_dim))
    r = super_resolution(g, ws, (1, 2, 4))
    assert [im.shape[0] for im in r.images] == [16, 32, 64] and r.lanczos.shape == (64, 64, 3)
    x1 = ((render(g, ws)[0].double().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(r.images[0], x1, atol=1e-5)
    for img in r.images[1:]:  # the grids share their corner nodes
        for i, j in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
            np.testing.assert_allclose(img[i, j], x1[i, j], atol=1e-5)
    assert set(r.spectra) == {"cips", "lanczos"} and r.spectra["cips"].shape == (64, 64)
    assert r.profiles["cips"].shape == (33,)
    assert r.beyond_nyquist["lanczos"] < r.beyond_nyquist["cips"]  # a random generator is all high frequency


def test_lanczos_adds_no_high_frequencies():
    rng = np.random.default_rng(0)
    noise = 0.25 + 0.5 * rng.random((16, 16, 3))  # inside [0, 1]: nothing is clipped after upsampling
    up = lanczos_upsample(noise, 64)
    assert power_beyond(noise, 4) > 0.5  # white noise: most power above half its band
    assert power_beyond(up, 8) < 0.1  # upsampled: little above the original Nyquist (the filter's leakage)
    np.testing.assert_allclose(lanczos_upsample(np.full((8, 8, 3), 0.25), 32), 0.25, atol=1e-6)


def test_factors_are_checked():
    g = make()
    ws = styles(g, latents([0], g.style_dim))
    with pytest.raises(ValueError, match="include 1"):
        super_resolution(g, ws, (2, 4))
