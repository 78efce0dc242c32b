"""The quality metrics by protocol name: how each is computed from features, and what its protocol records.

Every metric of metrics.json (`fid`, `kid`, `prc`) is one entry of `METRICS`: the feature network it reads,
the values it writes and the protocol fields of its settings. Evaluation (stage evaluate@, its real-vs-real
floor) and `cips fid` iterate the registry, so a new metric is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cips.config import EvalConfig
from cips.metrics import quality

# real features of one network, or their FID statistics when a reference has them cached
RealStats = Callable[[], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Metric:
    """One metric: `values(generated, real, cfg, real_stats)` -> its numbers; `settings(cfg, n_gen, n_real)`
    -> its protocol fields (keyword arguments of `quality.make_protocol`)."""

    name: str
    network: Literal["inception", "prc"]  # Inception pool features, or the precision/recall network's
    values: Callable[[np.ndarray, np.ndarray, EvalConfig, RealStats], dict[str, float]]
    settings: Callable[[EvalConfig, int, int], dict]


def _fid(generated: np.ndarray, real: np.ndarray, cfg: EvalConfig, real_stats: RealStats) -> dict[str, float]:
    return {"fid": quality.fid_from_features(generated, real_stats())}


def _kid(generated: np.ndarray, real: np.ndarray, cfg: EvalConfig, real_stats: RealStats) -> dict[str, float]:
    kid, kid_std = quality.kid_from_features(generated, real, cfg.kid_subsets, cfg.kid_subset_size, cfg.seed)
    return {"kid": kid, "kid_std": kid_std}


def _prc(generated: np.ndarray, real: np.ndarray, cfg: EvalConfig, real_stats: RealStats) -> dict[str, float]:
    precision, recall = quality.prc_from_features(generated, real, cfg.prc_k)
    return {"precision": precision, "recall": recall}


METRICS: dict[str, Metric] = {
    "fid": Metric("fid", "inception", _fid, lambda cfg, n_gen, n_real: {}),
    "kid": Metric("kid", "inception", _kid, lambda cfg, n_gen, n_real: {
        "kid_subsets": cfg.kid_subsets,
        "kid_subset_size": quality.kid_subset_size(n_gen, n_real, cfg.kid_subset_size)}),
    "prc": Metric("prc", "prc", _prc, lambda cfg, n_gen, n_real: {"prc_k": cfg.prc_k}),
}


def compute(generated: dict[str, np.ndarray], real: dict[str, np.ndarray], cfg: EvalConfig,
            networks: dict[str, str], names: tuple[str, ...] = tuple(METRICS),
            real_stats: Callable[[str], dict[str, np.ndarray]] | None = None) -> dict[str, float]:
    """The values of metrics `names`, in registry order. `generated`/`real`: features by network name;
    `networks`: role ("inception", "prc") -> network name; `real_stats(network)`: cached FID statistics of
    the real features (computed from them when None)."""
    out: dict[str, float] = {}
    for metric in (m for m in METRICS.values() if m.name in names):
        net = networks[metric.network]
        stats = (lambda n=net: real_stats(n)) if real_stats else (lambda n=net: quality.fid_statistics(real[n]))
        out.update(metric.values(generated[net], real[net], cfg, stats))
    return out


def protocols(cfg: EvalConfig, protocols_of: dict[str, dict], n_generated: int, n_real: int,
              names: tuple[str, ...] = tuple(METRICS), notes: dict[str, str] | None = None,
              **common) -> dict[str, dict]:
    """{name: protocol} of metrics `names`: `protocols_of` maps a role to its network's protocol fields,
    `common` the fields every metric shares (dataset, resolution, counts' descriptions ...)."""
    return {m.name: quality.make_protocol(m.name, network=protocols_of[m.network], n_generated=n_generated,
                                          n_real=n_real, **m.settings(cfg, n_generated, n_real),
                                          **({"note": notes[m.name]} if notes and notes.get(m.name) else {}),
                                          **common)
            for m in METRICS.values() if m.name in names}
