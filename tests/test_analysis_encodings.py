"""Positional-encoding analysis on synthetic (H, W, C) maps."""

import numpy as np
import pytest

from cips.analysis.encodings import encoding_spectrum, high_frequency_fraction, pca_rgb, shared_limits


def _fourier_like(h=32, w=32, c=16, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    xy = np.stack([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], -1)
    b = rng.normal(0, 2, size=(2, c))  # low frequencies, as sin(B (x', y'))
    return np.sin(xy @ b)


def test_pca_returns_three_components_with_decreasing_variance():
    rng = np.random.default_rng(1)
    h, w, c = 24, 24, 12
    basis = np.linalg.qr(rng.normal(size=(c, c)))[0][:, :3]
    scores = rng.normal(size=(h * w, 3)) * np.array([5.0, 2.0, 1.0])
    enc = (scores @ basis.T + 0.01 * rng.normal(size=(h * w, c))).reshape(h, w, c)
    img, ratio = pca_rgb(enc)
    assert img.shape == (h, w, 3) and img.min() >= 0 and img.max() <= 1
    assert ratio.shape == (3,) and np.all(np.diff(ratio) < 0)
    expected = np.array([25.0, 4.0, 1.0]) / 30.0
    assert np.allclose(ratio, expected, atol=0.03)
    img2, _ = pca_rgb(enc)
    assert np.array_equal(img, img2)


def test_noise_like_embeddings_have_more_high_frequencies_than_fourier_features():
    fourier = _fourier_like()
    embed = np.random.default_rng(2).normal(size=(32, 32, 16))
    assert high_frequency_fraction(embed) > 5 * high_frequency_fraction(fourier)
    sf, se = encoding_spectrum(fourier), encoding_spectrum(embed)
    assert sf.shape == se.shape == (32, 32)
    lo, hi = shared_limits(sf, se)
    assert lo < hi and lo <= min(np.percentile(sf, 5), np.percentile(se, 5))


def test_bad_maps_are_refused():
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        pca_rgb(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        encoding_spectrum(np.full((4, 4, 2), np.nan))
    with pytest.raises(ValueError, match="components"):
        pca_rgb(np.zeros((4, 4, 2)))
