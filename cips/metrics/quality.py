"""FID, KID and precision/recall from features (torch-fidelity's estimators) and their protocols.

The estimators are torch-fidelity's own functions, applied to features we extract once (so one pass
over the images serves every metric, and real features are cached per dataset):
- FID: Fréchet distance between Gaussians fitted to the 2048-d Inception pool features
  (`fid_features_to_statistics`, `fid_statistics_to_metric`).
- KID: unbiased MMD² with the cubic polynomial kernel, mean and std over random subsets
  (`kid_features_to_metric`).
- Precision/recall: Kynkäänniemi et al. 2019, k-NN balls (k = 3) (`prc_features_to_metric`); input 1
  is generated, input 2 real.

A protocol is a flat dict recorded beside every value. Values are comparable only when the fields in
COMPARED_FIELDS agree: `protocols_comparable(a, b)` says whether and why not, `check_comparable(a, b)`
raises ProtocolMismatch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch_fidelity
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from cips.metrics import inception
from cips.sampling import QUANTISATION

PROTOCOL_VERSION = 1

# fields that define what a number measures; two values are comparable only if all of these agree
COMPARED_FIELDS = (
    "metric",
    "dataset",
    "resolution",
    "n_generated",
    "n_real",
    "feature_network",
    "feature_layer",
    "resize",
    "normalisation",
    "quantisation",
    "truncation",
    "kid_subsets",
    "kid_subset_size",
    "prc_k",
)
# digests of weights files known to hold the same network (verified equal by tests/test_metrics_inception.py
# where both are present); a weights digest outside this set makes a protocol incomparable
EQUIVALENT_WEIGHTS = {
    inception.NETWORK: (inception.FID_HELPER_SHA256, inception.TORCH_FIDELITY_SHA256_PREFIX)
}


class ProtocolMismatch(ValueError):
    """Two metric values measured under different protocols."""


# --------------------------------------------------------------------------------------------
# estimators


def fid_statistics(features: np.ndarray) -> dict[str, np.ndarray]:
    """{'mu', 'sigma'} of (N, D) features, as torch-fidelity computes them."""
    return fid_features_to_statistics(torch.as_tensor(np.ascontiguousarray(features)))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||² + tr(S1 + S2 - 2 (S1 S2)^½), by torch-fidelity's eigenvalue formula."""
    mu1, mu2 = np.asarray(mu1), np.asarray(mu2)
    dtype = np.result_type(mu1, mu2)
    s1, s2 = np.asarray(sigma1), np.asarray(sigma2)
    sdtype = np.result_type(s1, s2)
    return fid_statistics_to_metric(
        {"mu": mu1.astype(dtype), "sigma": s1.astype(sdtype)},
        {"mu": mu2.astype(dtype), "sigma": s2.astype(sdtype)},
        verbose=False,
    )["frechet_inception_distance"]


def fid_from_features(generated: np.ndarray, real: np.ndarray | dict) -> float:
    """FID between features of generated images and real features (or their cached statistics)."""
    a = fid_statistics(generated)
    b = real if isinstance(real, dict) else fid_statistics(real)
    return frechet_distance(a["mu"], a["sigma"], b["mu"], b["sigma"])


def kid_subset_size(n1: int, n2: int, requested: int) -> int:
    """KID's subset size: the requested one, or the smaller set's size when a set is smaller."""
    return max(2, min(requested, n1, n2))


def kid_from_features(
    generated: np.ndarray, real: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² over `subsets` random subsets (sizes clipped to the sets)."""
    size = kid_subset_size(len(generated), len(real), subset_size)
    out = kid_features_to_metric(
        torch.as_tensor(generated),
        torch.as_tensor(real),
        kid_subsets=subsets,
        kid_subset_size=size,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=seed,
        verbose=False,
    )
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def prc_from_features(generated: np.ndarray, real: np.ndarray, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of Kynkäänniemi et al.: generated inside the real k-NN manifold, and back."""
    if min(len(generated), len(real)) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} images per set "
            f"(got {len(generated)} generated, {len(real)} real)"
        )
    g = torch.as_tensor(np.ascontiguousarray(generated), dtype=torch.float32)
    r = torch.as_tensor(np.ascontiguousarray(real), dtype=torch.float32)
    # above 10k x 10k torch-fidelity's full distance matrices need > 1 GB: use its row-batched variant,
    # with batches small enough that one (batch, N) block stays near 0.5 GB at N = 70k
    big = len(g) * len(r) > 10_000 * 10_000
    out = prc_features_to_metric(
        g, r, prc_neighborhood=k, prc_batch_size=2000 if big else 10_000, save_cpu_ram=big, verbose=False
    )
    return out["precision"], out["recall"]


# --------------------------------------------------------------------------------------------
# protocols


def make_protocol(
    metric: str,
    *,
    dataset: str,
    resolution: int,
    n_generated: int,
    n_real: int,
    network: dict,
    truncation: float = 1.0,
    seeds: dict | None = None,
    generated: str = "generator (EMA)",
    real: str = "",
    kid_subsets: int | None = None,
    kid_subset_size: int | None = None,
    prc_k: int | None = None,
    note: str = "",
) -> dict:
    """The protocol of one metric value. `network` is FeatureNetwork.protocol()."""
    if metric not in ("fid", "kid", "prc"):
        raise ValueError(f"unknown metric {metric!r}")
    p = {
        "metric": metric,
        "dataset": dataset,
        "resolution": int(resolution),
        "n_generated": int(n_generated),
        "n_real": int(n_real),
        **network,
        "quantisation": QUANTISATION,
        "truncation": float(truncation),
        "kid_subsets": kid_subsets if metric == "kid" else None,
        "kid_subset_size": kid_subset_size if metric == "kid" else None,
        "prc_k": prc_k if metric == "prc" else None,
        "seeds": seeds or {},
        "generated": generated,
        "real": real,
        "estimator": f"torch-fidelity {torch_fidelity.__version__}",
        "protocol_version": PROTOCOL_VERSION,
    }
    if note:
        p["note"] = note
    return p


def _weights_known(p: dict) -> bool:
    digest = (p.get("feature_weights") or {}).get("sha256")
    known = EQUIVALENT_WEIGHTS.get(p.get("feature_network"))
    if known is None or digest is None:  # no alternative file known, or a published number (no file)
        return True
    return any(digest.startswith(k) for k in known)


def protocols_comparable(a: dict, b: dict) -> tuple[bool, list[str]]:
    """Whether values measured under protocols `a` and `b` may be compared, and the differences if not."""
    reasons = []
    for key in COMPARED_FIELDS:
        if a.get(key) != b.get(key):
            reasons.append(f"{key}: {a.get(key)!r} vs {b.get(key)!r}")
    for side, p in (("first", a), ("second", b)):
        if not _weights_known(p):
            reasons.append(
                f"feature_weights of the {side}: sha256 {p['feature_weights'].get('sha256')} is not a "
                f"known file of {p.get('feature_network')}"
            )
    return (not reasons), reasons


def check_comparable(a: dict, b: dict) -> None:
    """Raise ProtocolMismatch (one line, naming the differing fields) unless `a` and `b` are comparable."""
    ok, reasons = protocols_comparable(a, b)
    if not ok:
        raise ProtocolMismatch("metric values measured under different protocols: " + "; ".join(reasons))
