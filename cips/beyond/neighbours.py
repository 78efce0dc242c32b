"""Fig. 18, nearest neighbours in the training set: for generated samples, the training images closest in
Inception feature space (pooled 2048-d features of the FID network, Euclidean distance).

The paper mines FFHQ with FaceNet descriptors; a face network would not transfer to the other datasets and
is not available offline, so this uses the FID Inception features for every dataset.

Training features come from the dataset's FID reference (`data/<dataset>/fid_ref.npz`), which already holds
the features of the `eval.n_real` reference images and of the real-vs-real floor's held-out images, all of
them training images: no extra Inception pass over the data (at paper scale, n_real null, that is every
image). Without a reference, `lmdb_features` computes them for a bounded subset. As a yardstick the figure
gives the typical distance from a training image to its nearest other training image: a sample much closer
than that to one training image would be a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cips.metrics.features import FeatureNetwork, extract, iter_dataset, open_images
from cips.metrics.reference import bundle_keys, load_reference, select_indices


@dataclass
class TrainingFeatures:
    features: np.ndarray  # (N, D) float32
    indices: np.ndarray  # (N,) index of each feature's image in the LMDB
    lmdb: Path
    source: str  # in words, for captions


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances, in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(d2, 0, None))


def nearest(queries: np.ndarray, train: np.ndarray, k: int = 5, block: int = 4096,
            exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (Q, k), of the k nearest rows of `train` for each query, nearest first;
    the training set is scanned in blocks so memory stays bounded at any size."""
    k = min(k, len(train) - (1 if exclude_self else 0))
    if k < 1:
        raise ValueError(f"nearest: {len(train)} training features, too few for a neighbour")
    best_d = np.full((len(queries), 0), np.inf)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(train), block):
        d = _distances(queries, train[start:start + block])
        if exclude_self:
            rows = np.arange(len(queries))
            own = rows - start
            ok = (own >= 0) & (own < d.shape[1])
            d[rows[ok], own[ok]] = np.inf
        idx = np.arange(start, start + d.shape[1])[None, :].repeat(len(queries), 0)
        best_d = np.concatenate([best_d, d], 1)
        best_i = np.concatenate([best_i, idx], 1)
        order = np.argsort(best_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(best_d, order, 1)
        best_i = np.take_along_axis(best_i, order, 1)
    return best_i, best_d


def reference_features(bundle: str | Path, lmdb: str | Path, resolution: int,
                       network: str = "inception-v3-compat") -> TrainingFeatures:
    """The training images' features cached in an FID reference bundle (reference and floor sets) at
    `resolution`, with the LMDB index of each (recomputed from the reference's recorded selection)."""
    bundle, lmdb = Path(bundle), Path(lmdb)
    if not bundle.is_file():
        raise FileNotFoundError(f"{bundle}: no FID reference (its features are a machine-local cache: "
                                "`dvc repro -f -s reference@<dataset>` computes them)")
    keys = [k for k, s in bundle_keys(bundle).items() if int(s.get("resolution", -1)) == resolution
            and network in (s.get("networks") or {})]
    if not keys:
        raise ValueError(f"{bundle}: no reference at {resolution}px with {network} features")
    ref = load_reference(bundle, keys[0])
    images = open_images(lmdb)
    described = images.describe() if hasattr(images, "describe") else {"count": len(images)}
    if described != ref.settings.get("source"):
        raise ValueError(f"{bundle}: its reference was computed from other images than {lmdb} "
                         "(`dvc repro -f -s reference@<dataset>` computes them again)")
    s = ref.settings
    ref_idx, floor_idx = select_indices(len(images), s.get("n_real_requested"), int(s["n_floor"]), int(s["seed"]))
    feats = [ref.features[network]]
    idx = [ref_idx]
    if network in ref.floor_features and len(floor_idx):
        feats.append(ref.floor_features[network])
        idx.append(floor_idx)
    features, indices = np.concatenate(feats), np.concatenate(idx)
    if len(features) != len(indices):
        raise ValueError(f"{bundle}: {len(features)} features for {len(indices)} selected images")
    source = (f"the {len(indices):,} of {len(images):,} training images whose Inception features the FID "
              f"reference caches ({s.get('selection', 'recorded selection')})")
    return TrainingFeatures(features, indices, lmdb, source)


def lmdb_features(lmdb: str | Path, net: FeatureNetwork, limit: int | None = 1000, seed: int = 0,
                  batch: int = 64) -> TrainingFeatures:
    """Features of `limit` training images drawn with `seed` (all of them when limit is None)."""
    images = open_images(lmdb)
    n = len(images)
    idx = np.arange(n) if limit is None or limit >= n else np.sort(
        np.random.default_rng(seed).permutation(n)[:limit])
    feats = extract(iter_dataset(images, idx.tolist(), batch), [net], total=len(idx), desc="training features",
                    progress=False)[net.name]
    source = f"{len(idx):,} of {n:,} training images (numpy default_rng({seed}) draw)"
    return TrainingFeatures(feats, idx, Path(lmdb), source)


def training_images(train: TrainingFeatures, rows: np.ndarray) -> np.ndarray:
    """(…, H, W, 3) uint8 training images of the given rows of `train` (any shape of rows)."""
    images = open_images(train.lmdb)
    flat = [images[int(train.indices[r])].permute(1, 2, 0).numpy() for r in rows.ravel()]
    return np.stack(flat).reshape(*rows.shape, *flat[0].shape)


def typical_gap(train: TrainingFeatures, n: int = 200, seed: int = 0) -> float:
    """Median distance from a training image (n of them) to its nearest other training image."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(train.features))[:n])
    # put the picked rows first so exclude_self can blank each query's own column
    order = np.concatenate([pick, np.setdiff1d(np.arange(len(train.features)), pick)])
    _, d = nearest(train.features[pick], train.features[order], k=1, exclude_self=True)
    return float(np.median(d[:, 0]))


@dataclass
class Neighbours:
    samples: np.ndarray  # (B, H, W, 3) uint8
    images: np.ndarray  # (B, k, H, W, 3) uint8
    distances: np.ndarray  # (B, k)
    lmdb_indices: np.ndarray  # (B, k)
    gap: float  # typical_gap of the training features
    source: str


def neighbours(samples_uint8: torch.Tensor, net: FeatureNetwork, train: TrainingFeatures, k: int = 5) -> Neighbours:
    """Fig. 18 for uint8 samples (B, 3, H, W) against the training features `train`."""
    feats = net(samples_uint8).numpy()
    rows, dist = nearest(feats, train.features, k)
    return Neighbours(samples_uint8.permute(0, 2, 3, 1).numpy(), training_images(train, rows), dist,
                      train.indices[rows], typical_gap(train), train.source)
