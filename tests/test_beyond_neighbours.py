"""Nearest neighbours in the training set (Fig. 18): exact search in blocks, training features reused from the
FID reference with the right LMDB indices, and a copied training image found at distance 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.toy import blob_images, write_lmdb

from cips.beyond.neighbours import (
    TrainingFeatures,
    lmdb_features,
    nearest,
    neighbours,
    reference_features,
    training_images,
    typical_gap,
)
from cips.metrics.features import open_images
from cips.metrics.reference import compute_reference, save_bundle


class PixelNet:
    """A stand-in feature network: the pixels themselves (so a copy is at distance 0)."""

    name = "inception-v3-compat"

    def protocol(self) -> dict:
        return {"feature_network": self.name, "test": True}

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().flatten(1) / 255


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory):
    return write_lmdb(tmp_path_factory.mktemp("data") / "lmdb" / "16", blob_images(40, 16, seed=0))


def test_nearest_matches_brute_force_in_blocks():
    rng = np.random.default_rng(0)
    q, t = rng.normal(size=(5, 8)), rng.normal(size=(23, 8))
    idx, dist = nearest(q, t, k=4, block=3)
    full = np.linalg.norm(q[:, None] - t[None], axis=2)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :4])
    own, d = nearest(t[:5], t, k=1, block=4, exclude_self=True)
    assert (own[:, 0] != np.arange(5)).all() and (d > 0).all()


def test_reference_features_index_the_lmdb_and_find_a_copy(tmp_path, lmdb):
    net = PixelNet()
    images = open_images(lmdb)
    ref = compute_reference("toy", images, [net], n_real=20, n_floor=6, seed=3, progress=False)
    bundle = save_bundle([ref], tmp_path / "fid_ref.npz")
    train = reference_features(bundle, lmdb, 16)
    assert len(train.features) == len(train.indices) == 26 and len(set(train.indices.tolist())) == 26
    for row in (0, 19, 20, 25):  # reference rows, then floor rows
        expected = net(images[int(train.indices[row])].unsqueeze(0))[0].numpy()
        np.testing.assert_allclose(train.features[row], expected, atol=1e-6)
    copies = torch.stack([images[int(i)] for i in train.indices[[2, 22]]])
    r = neighbours(copies, net, train, k=3)
    assert r.images.shape == (2, 3, 16, 16, 3) and r.distances[:, 0] == pytest.approx(0, abs=1e-4)
    np.testing.assert_array_equal(r.lmdb_indices[:, 0], train.indices[[2, 22]])
    np.testing.assert_array_equal(r.images[:, 0], copies.permute(0, 2, 3, 1).numpy())
    assert (np.diff(r.distances, axis=1) >= 0).all() and r.gap > 0 and "26 of 40" in r.source


def test_a_reference_of_other_images_is_refused(tmp_path, lmdb):
    other = write_lmdb(tmp_path / "other", blob_images(40, 16, seed=9))
    ref = compute_reference("toy", open_images(other), [PixelNet()], n_real=10, n_floor=0, seed=0, progress=False)
    bundle = save_bundle([ref], tmp_path / "fid_ref.npz")
    with pytest.raises(ValueError, match="fid_ref.npz: its reference was computed from other images"):
        reference_features(bundle, lmdb, 16)
    with pytest.raises(ValueError, match="no reference at 32px"):
        reference_features(bundle, lmdb, 32)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        reference_features(tmp_path / "missing.npz", lmdb, 16)


def test_features_of_a_bounded_subset(lmdb):
    train = lmdb_features(lmdb, PixelNet(), limit=12, seed=1)
    assert train.features.shape == (12, 16 * 16 * 3) and len(set(train.indices.tolist())) == 12
    imgs = training_images(train, np.array([[0, 1], [2, 3]]))
    assert imgs.shape == (2, 2, 16, 16, 3)


def test_typical_gap_is_the_median_nearest_other_distance():
    feats = np.array([[0.0], [1.0], [3.0], [7.0]])
    t = TrainingFeatures(feats, np.arange(4), None, "")
    assert typical_gap(t, n=4) == pytest.approx(np.median([1, 1, 2, 4]))
