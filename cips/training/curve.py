"""Learning curves: FID and KID of the EMA generator on a small N, measured while a run trains.

Every `train.eval_every` kimg the trainer scores `train.eval_n` samples of G_ema (seeds 0..N-1, per-sample
noise as in the final evaluation) against `train.eval_n` real images of the training LMDB (a fixed seeded
draw), with the FID Inception. Small-N FIDs are biased upwards; they show where a run is going, not where
it ends (the evaluate stage scores the final model at the scale's protocol).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from cips.metrics import quality
from cips.metrics.features import extract, iter_dataset, load_inception, open_images
from cips.sampling import iter_generated

REAL_SEED = 12345  # which reals the curve compares against (fixed, apart from the evaluation's draw)


class LearningCurve:
    """Scores a generator against `n` reals of `lmdb`; the real features are computed once."""

    def __init__(self, lmdb: str | Path, n: int, batch: int = 50, device: str | torch.device = "cpu") -> None:
        self.n, self.batch, self.device = n, batch, torch.device(device)
        self.net = load_inception(self.device)
        reals = open_images(lmdb)
        count = min(n, len(reals))
        order = np.random.default_rng(REAL_SEED).permutation(len(reals))[:count]
        self.real = extract(iter_dataset(reals, np.sort(order).tolist(), batch), [self.net], total=count,
                            progress=False)[self.net.name]
        self.real_stats = quality.fid_statistics(self.real)

    @torch.no_grad()
    def measure(self, G: nn.Module) -> dict[str, float]:
        """FID and KID of `n` samples of G (eval mode) against the reals."""
        was_training = G.training
        G.eval()
        generated = extract(iter_generated(G, self.n, self.batch, 0, 1.0, self.device), [self.net], total=self.n,
                            progress=False)[self.net.name]
        G.train(was_training)
        kid, _ = quality.kid_from_features(generated, self.real, subsets=50, subset_size=min(self.n, 1000))
        return {"fid": quality.fid_from_features(generated, self.real_stats), "kid": kid}
