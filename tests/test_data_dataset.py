"""The training Dataset: values, flips, official LMDBs, grey storage, DataLoader workers, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from fixtures.synthetic import write_image_folder, write_official_lmdb
from torch.utils.data import DataLoader

from cips.config import DatasetConfig, from_dict
from cips.data.dataset import ImageLMDBDataset, resolve_lmdb
from cips.data.errors import DataError
from cips.data.prepare import prepare_dataset


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    write_image_folder(root / "src", 10, 40, seed=0)
    cfg = from_dict(
        DatasetConfig,
        {"source": {"kind": "folder", "path": str(root / "src")}, "resolutions": [32, 16], "workers": 0},
    )
    prepare_dataset("t", cfg, root / "lmdb", progress=False)
    return root / "lmdb"


def test_float_tensors_in_range_matching_the_stored_pixels(prepared):
    ds = ImageLMDBDataset(prepared, resolution=32)
    assert len(ds) == 10 and ds.resolution == 32
    raw = ImageLMDBDataset(prepared, resolution=32, uint8=True)
    for i in range(len(ds)):
        x = ds[i]
        assert x.dtype == torch.float32 and x.shape == (3, 32, 32)
        assert -1.0 <= x.min() and x.max() <= 1.0
        torch.testing.assert_close(x, raw[i].float() / 127.5 - 1.0)
    with pytest.raises(IndexError):
        ds[10]


def test_flip_is_random_and_horizontal(prepared):
    plain = ImageLMDBDataset(prepared, resolution=16)
    flipping = ImageLMDBDataset(prepared, resolution=16, flip=True)
    torch.manual_seed(0)
    seen = set()
    for _ in range(30):
        x = flipping[3]
        if torch.equal(x, plain[3]):
            seen.add("same")
        elif torch.equal(x, plain[3].flip(-1)):
            seen.add("flipped")
        else:
            pytest.fail("neither the image nor its mirror")
    assert seen == {"same", "flipped"}


def test_resolution_selection(prepared):
    with pytest.raises(DataError, match=r"holds resolutions \[16, 32\]; say which one"):
        ImageLMDBDataset(prepared)
    with pytest.raises(DataError, match=r"no resolution 64 \(has \[16, 32\]\)"):
        resolve_lmdb(prepared, 64)
    assert resolve_lmdb(prepared / "16") == prepared / "16"


def test_reads_official_layout_with_non_square_images(tmp_path):
    write_official_lmdb(tmp_path / "official", [32], 3, aspect=1.5)  # 48x32 after the official resize
    ds = ImageLMDBDataset(tmp_path / "official")
    assert ds.manifest is None and len(ds) == 3
    x = ds[1]
    assert x.shape == (3, 32, 32)  # centre-cropped to a square
    assert -1 <= x.min() and x.max() <= 1


def test_grey_storage_gives_rgb(tmp_path):
    write_image_folder(tmp_path / "src", 2, 20, seed=1)
    cfg = from_dict(
        DatasetConfig,
        {
            "source": {"kind": "folder", "path": str(tmp_path / "src")},
            "resolutions": [20],
            "grayscale_to_rgb": False,
            "format": "png",
            "workers": 0,
        },
    )
    prepare_dataset("t", cfg, tmp_path / "out", progress=False)
    ds = ImageLMDBDataset(tmp_path / "out")
    assert ds.manifest["encoding"]["channels"] == 1
    x = ds[0]
    assert x.shape == (3, 20, 20) and torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])


def test_dataloader_with_workers_reads_everything_and_the_dataset_pickles(prepared):
    ds = ImageLMDBDataset(prepared, resolution=32, flip=True)
    ds[0]  # opened in this process first: workers must open their own environment
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._env is None
    torch.testing.assert_close(
        ImageLMDBDataset(prepared, resolution=32)[4], ImageLMDBDataset(prepared, resolution=32)[4]
    )
    for context in ("fork", "spawn"):
        loader = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context=context)
        batches = list(loader)
        assert sum(b.shape[0] for b in batches) == 10
        assert all(b.shape[1:] == (3, 32, 32) for b in batches)
    plain = ImageLMDBDataset(prepared, resolution=32)
    got = torch.cat(list(DataLoader(plain, batch_size=5, num_workers=2)))
    expected = torch.stack([plain[i] for i in range(10)])
    assert torch.equal(got, expected)
    assert np.isfinite(got.numpy()).all()
