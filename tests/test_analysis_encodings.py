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


def test_the_encodings_stage_keeps_fig4_shares_per_seed_at_every_budget(tmp_path):
    """Fig. 4's claim data: a share per seed of the named CIPS-base run and, under budget/<images>/, of its
    longer twin (cips.analysis.budgets), each beside the same seed's share at initialisation."""
    import json

    import yaml
    from test_training import make_project

    from cips.analysis.encodings import encodings_from_params
    from cips.layout import Layout
    from cips.training.runner import train_from_params

    path = make_project(tmp_path, {"toy-cips": {"dataset": "toy", "seeds": [0, 1]},
                                   "toy-cips-long": {"dataset": "toy", "seeds": [0], "train": {"steps": 2}}}, steps=1)
    params = yaml.safe_load(path.read_text())
    params["analysis"] = {"encodings": {"base": "toy-cips"}}
    path.write_text(yaml.safe_dump(params))
    for member in ("toy-cips-s0", "toy-cips-s1", "toy-cips-long-s0"):
        train_from_params(member, path, tmp_path, track=False, progress=False)
    with np.load(encodings_from_params(path, tmp_path)) as z:
        assert len(z["seeds/fig4/embeddings_high_freq"]) == 2 and len(z["seeds/fig4_init/fourier_high_freq"]) == 2
        assert json.loads(str(z["budget/8/runs"])) == {"base": "toy-cips-long"}  # 2 steps of batch 4
        longer = z["budget/8/seeds/fig4/embeddings_high_freq"]
        assert len(longer) == 1 and longer[0] != z["seeds/fig4/embeddings_high_freq"][0]  # one more step
        np.testing.assert_array_equal(z["budget/8/seeds/fig4_init/embeddings_high_freq"],
                                      z["seeds/fig4_init/embeddings_high_freq"][:1])  # seed 0's init, both budgets
    assert Layout(tmp_path, "test").report_data("encodings.npz").is_file()
