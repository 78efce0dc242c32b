"""FID, KID and precision/recall estimators on synthetic features with known answers; protocols."""

import numpy as np
import pytest
import scipy.linalg

from cips.metrics import quality
from cips.metrics.quality import (
    ProtocolMismatch,
    check_comparable,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    make_protocol,
    prc_from_features,
    protocols_comparable,
)
from cips.report.tables import paper_protocol


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _frechet_scipy(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    for d in (2, 8, 32):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_frechet_scipy(mu1, s1, mu2, s2), rel=1e-8)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    # for commuting covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    a, b = rng.uniform(0.5, 3, 16), rng.uniform(0.5, 3, 16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_fid_of_samples_converges_to_the_population_value():
    rng = np.random.default_rng(2)
    d = 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = np.diag([1.0, 2, 3, 4]), np.diag([2.0, 2, 1, 1])
    x = rng.multivariate_normal(mu1, s1, size=200_000).astype(np.float32)
    y = rng.multivariate_normal(mu2, s2, size=200_000).astype(np.float32)
    expected = frechet_distance(mu1, s1, mu2, s2)
    assert fid_from_features(x, y) == pytest.approx(expected, rel=0.02)


def test_fid_of_a_set_against_itself_is_zero():
    x = np.random.default_rng(3).normal(size=(500, 16)).astype(np.float32)
    assert abs(fid_from_features(x, x)) < 1e-6
    assert fid_from_features(x, x + 1) == pytest.approx(16.0, rel=1e-4)  # a shift of 1 in 16 dims


def test_kid_is_unbiased_around_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 32)).astype(np.float32)
    y = rng.normal(size=(400, 32)).astype(np.float32)
    mean, std = kid_from_features(x, y, subsets=50, subset_size=100, seed=0)
    # the unbiased MMD^2 estimate is centred on 0 for equal distributions (a biased one is always > 0)
    assert abs(mean) < 3 * std
    from torch_fidelity.metric_kid import kernel_poly, mmd2

    kw = dict(kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    values = [
        mmd2(kernel_poly(a, a, **kw), kernel_poly(a, b, **kw), kernel_poly(b, b, **kw))
        for a, b in ((x[i * 100 : (i + 1) * 100], y[i * 100 : (i + 1) * 100]) for i in range(4))
    ]
    biased = [
        mmd2(kernel_poly(a, a, **kw), kernel_poly(a, b, **kw), kernel_poly(b, b, **kw), mmd_est="biased")
        for a, b in ((x[i * 100 : (i + 1) * 100], y[i * 100 : (i + 1) * 100]) for i in range(4))
    ]
    assert min(values) < 0 < min(biased)
    shifted, _ = kid_from_features(x, y + 0.5, subsets=50, subset_size=100, seed=0)
    assert shifted > 10 * std


def test_kid_equals_the_unbiased_mmd_with_the_cubic_polynomial_kernel_by_hand():
    """KID is the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al.). With one subset as large as
    both sets, every subset is a permutation of the whole set, so KID is that estimate over all features,
    computed here independently of torch-fidelity; a wrong degree, gamma or coef0 changes it."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(60, 12)).astype(np.float32)
    y = (rng.normal(size=(60, 12)) * 1.3 + 0.2).astype(np.float32)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    d, m = x.shape[1], len(x)

    def k(a, b):
        return (a @ b.T / d + 1.0) ** 3

    kxx, kyy, kxy = k(xd, xd), k(yd, yd), k(xd, yd)
    by_hand = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    assert by_hand > 0
    for seed in (0, 7):
        mean, std = kid_from_features(x, y, subsets=1, subset_size=m, seed=seed)
        assert mean == pytest.approx(by_hand, rel=1e-5) and std == 0


def test_kid_subset_size_is_clipped_to_the_smaller_set():
    assert quality.kid_subset_size(50, 1000, 1000) == 50
    x = np.random.default_rng(5).normal(size=(50, 8)).astype(np.float32)
    mean, _ = kid_from_features(x, x[::-1].copy(), subsets=3, subset_size=1000)
    assert np.isfinite(mean)


def test_precision_recall_identical_sets_are_one_and_disjoint_sets_zero():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    assert prc_from_features(x, x, k=3) == (1.0, 1.0)
    assert prc_from_features(x, x + 100, k=3) == (0.0, 0.0)


def test_precision_recall_on_overlapping_uniform_squares():
    rng = np.random.default_rng(7)
    real = rng.uniform(0, 1, size=(3000, 2)).astype(np.float32)
    half = rng.uniform([0, 0], [0.5, 1], size=(3000, 2)).astype(np.float32)  # inside the real support
    shifted = rng.uniform([0.5, 0], [1.5, 1], size=(3000, 2)).astype(np.float32)  # half outside
    p, r = prc_from_features(half, real, k=3)
    assert p > 0.97 and r == pytest.approx(0.5, abs=0.05)
    p, r = prc_from_features(shifted, real, k=3)
    assert p == pytest.approx(0.5, abs=0.05) and r == pytest.approx(0.5, abs=0.05)


def test_precision_recall_needs_more_than_k_samples():
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="more than 3"):
        prc_from_features(x, x, k=3)


NET = {
    "feature_network": "inception-v3-compat",
    "feature_layer": "2048",
    "resize": "r",
    "normalisation": "n",
    "feature_weights": {"sha256": quality.inception.FID_HELPER_SHA256},
}


def _proto(**kw):
    base = dict(
        dataset="fashion", resolution=32, n_generated=500, n_real=5000, network=NET, seeds={"first": 0}
    )
    base.update(kw)
    return make_protocol("fid", **base)


def test_protocols_with_the_same_settings_are_comparable_even_with_other_seeds():
    assert protocols_comparable(_proto(), _proto(seeds={"first": 7})) == (True, [])
    check_comparable(_proto(), _proto(seeds={"first": 7}))


def test_protocols_with_different_counts_are_refused_naming_the_field():
    ok, reasons = protocols_comparable(_proto(), _proto(n_generated=50_000))
    assert not ok and reasons == ["n_generated: 500 vs 50000"]
    with pytest.raises(ProtocolMismatch, match="n_generated: 500 vs 50000"):
        check_comparable(_proto(), _proto(n_generated=50_000))
    with pytest.raises(ProtocolMismatch, match="resolution"):
        check_comparable(_proto(), _proto(resolution=64))


def test_unknown_weights_are_refused():
    other = dict(NET, feature_weights={"sha256": "0" * 64})
    ok, reasons = protocols_comparable(_proto(), _proto(network=other))
    assert not ok and "not a known file" in reasons[0]


def test_offline_precision_recall_differs_from_the_papers_protocol():
    ours = make_protocol(
        "prc", dataset="ffhq", resolution=256, n_generated=50_000, n_real=70_000, network=NET, prc_k=3
    )
    ok, reasons = protocols_comparable(ours, paper_protocol("prc", "ffhq", n_real=70_000))
    assert not ok and any(r.startswith("feature_network") for r in reasons)
    fid = make_protocol(
        "fid",
        dataset="ffhq",
        resolution=256,
        n_generated=50_000,
        n_real=70_000,
        network=dict(NET, resize=quality.inception.RESIZE, normalisation=quality.inception.NORMALISATION),
    )
    assert protocols_comparable(fid, paper_protocol("fid", "ffhq", n_real=70_000)) == (True, [])


def test_eval_config_refuses_bad_protocols_naming_the_key():
    from cips.config import ConfigError, EvalConfig, from_dict

    assert from_dict(EvalConfig, {"n_generated": 500, "real_floor": True}, "eval").prc_features == "auto"
    with pytest.raises(ConfigError, match=r"^eval\.n_generated: must be at least 2"):
        from_dict(EvalConfig, {"n_generated": 1}, "eval")
    with pytest.raises(ConfigError, match=r"^eval\.spectrum_normalise"):
        from_dict(EvalConfig, {"spectrum_dc": "exclude"}, "eval")
    with pytest.raises(ConfigError, match=r"^eval\.prc_features"):
        from_dict(EvalConfig, {"prc_features": "clip"}, "eval")
