"""Sources: folder, zip, LSUN LMDB, official CIPS LMDB, Fashion-MNIST idx files, skimage photographs."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fixtures.synthetic import random_image, write_lsun_lmdb, write_official_lmdb
from PIL import Image

from cips.config import SourceConfig, from_dict
from cips.data import fashion_mnist, skimage_photos
from cips.data.errors import DataError
from cips.data.sources import (
    FashionMnistSource,
    FolderSource,
    LsunSource,
    OfficialLmdbSource,
    SkimagePhotosSource,
    ZipSource,
    open_source,
)

REAL_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def _png_bytes(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_folder_is_recursive_any_case_and_sorted(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    random_image(rng, 20).save(tmp_path / "z.JPG", format="JPEG")
    random_image(rng, 20).save(tmp_path / "a.png")
    random_image(rng, 20).save(tmp_path / "b" / "x.Jpeg", format="JPEG")
    random_image(rng, 20).save(tmp_path / "b" / "deeper" / "y.WEBP", format="WEBP")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "b" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    src = FolderSource(tmp_path)
    assert src.files == ["a.png", "b/bad.png", "b/deeper/y.WEBP", "b/x.Jpeg", "z.JPG"]
    assert src.load(0).size == (20, 20)
    assert src.load(2).size == (20, 20)  # webp decodes
    with pytest.raises((OSError, SyntaxError, ValueError)):
        src.load(1)  # corrupt: raises on load, so prepare can skip it
    assert FolderSource(tmp_path, limit=2).files == ["a.png", "b/bad.png"]


def test_zip_source(tmp_path):
    rng = np.random.default_rng(1)
    images = [random_image(rng, 16 + i) for i in range(3)]
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as z:
        z.writestr("set/2.png", _png_bytes(images[2]))
        z.writestr("set/0.PNG", _png_bytes(images[0]))
        z.writestr("set/1.jpg", _png_bytes(images[1], "JPEG"))
        z.writestr("set/readme.md", "x")
        z.writestr("__MACOSX/set/._0.PNG", b"junk")
    src = ZipSource(tmp_path / "imgs.zip")
    assert src.members == ["set/0.PNG", "set/1.jpg", "set/2.png"]
    np.testing.assert_array_equal(np.asarray(src.load(0)), np.asarray(images[0]))
    assert src.load(2).size == (18, 18)
    # picklable with a lazily reopened handle
    import pickle

    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(np.asarray(clone.load(2)), np.asarray(images[2]))
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.zip: not a readable zip"):
        ZipSource(tmp_path / "bad.zip")


def test_lsun_source_reads_webp_in_key_order(tmp_path):
    images = write_lsun_lmdb(tmp_path / "church_outdoor_train_lmdb", 5)
    src = LsunSource(tmp_path / "church_outdoor_train_lmdb")
    assert len(src) == 5
    assert src.keys == sorted(src.keys)
    order = sorted(range(5), key=lambda i: (i * 7919) % 1000)
    for j, i in enumerate(order):
        np.testing.assert_array_equal(np.asarray(src.load(j).convert("RGB")), np.asarray(images[i]))
    assert len(LsunSource(tmp_path / "church_outdoor_train_lmdb", limit=3)) == 3


def test_official_lmdb_source(tmp_path):
    root = write_official_lmdb(tmp_path / "official", [16, 32], 4)
    assert (root / "32" / "lock.mdb").exists()
    src = OfficialLmdbSource(root / "32")
    assert len(src) == 4
    assert src.load(3).size == (32, 32)
    with pytest.raises(DataError, match=r"holds resolutions 16, 32: point path at one of them"):
        OfficialLmdbSource(root)


def _write_idx(path: Path, images: np.ndarray, compress: bool = True) -> None:
    n, rows, cols = images.shape
    data = (
        (0x803).to_bytes(4, "big")
        + b"".join(v.to_bytes(4, "big") for v in (n, rows, cols))
        + images.tobytes()
    )
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def test_fashion_mnist_reader_on_small_idx_files(tmp_path):
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", train)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test)
    _write_idx(tmp_path / "plain-idx3-ubyte", test, compress=False)
    np.testing.assert_array_equal(fashion_mnist.read_idx_images(tmp_path / "plain-idx3-ubyte"), test)
    np.testing.assert_array_equal(fashion_mnist.load_fashion_mnist(tmp_path), np.concatenate([train, test]))
    src = FashionMnistSource(tmp_path, limit=6)
    assert len(src) == 6
    np.testing.assert_array_equal(np.asarray(src.load(5)), test[0])
    assert src.load(0).mode == "L"

    (tmp_path / "labels").write_bytes((0x801).to_bytes(4, "big") + bytes(12))
    with pytest.raises(DataError, match=r"labels: not an idx3-ubyte image file \(magic 0x00000801"):
        fashion_mnist.read_idx_images(tmp_path / "labels")
    (tmp_path / "short").write_bytes((0x803).to_bytes(4, "big") + (9).to_bytes(4, "big") + bytes(8 + 10))
    with pytest.raises(DataError, match="header says 9 images"):
        fashion_mnist.read_idx_images(tmp_path / "short")


def test_fashion_mnist_missing_names_the_package(tmp_path):
    with pytest.raises(DataError) as err:
        open_source(SourceConfig(kind="fashion-mnist", path=str(tmp_path)), "fashion")
    msg = str(err.value)
    assert "\n" not in msg
    assert "train-images-idx3-ubyte.gz: not found" in msg and "apt-get install dataset-fashion-mnist" in msg


@pytest.mark.skipif(not REAL_FASHION.exists(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_real_package():
    images = fashion_mnist.load_fashion_mnist()
    assert images.shape == (70000, 28, 28) and images.dtype == np.uint8
    assert 0 < images.mean() < 255  # real pictures, neither blank nor saturated
    src = FashionMnistSource()
    assert len(src) == 70000


def test_skimage_photos_are_cc0_or_public_domain():
    for name in skimage_photos.FILES:
        licence = skimage_photos.licence_of(name)
        assert "CC0" in licence or "public domain" in licence.lower(), (name, licence)
        assert skimage_photos.image_path(name).is_file()
    src = SkimagePhotosSource("", ["chelsea", "rocket"])
    assert src.load(0).size == (451, 300)
    info = src.describe()
    assert set(info["images"]) == {"chelsea.png", "rocket.jpg"}
    assert "CC0" in info["images"]["chelsea.png"]["licence"]


def test_skimage_refuses_images_without_permissive_licence():
    with pytest.raises(DataError, match="'moon': its documentation states no CC0 or public-domain licence"):
        skimage_photos.licence_of("moon")
    with pytest.raises(DataError, match="'lena': not one of the bundled photographs"):
        skimage_photos.image_path("lena")


def test_missing_source_path_is_one_line_with_where_published(tmp_path):
    cfg = from_dict(
        SourceConfig,
        {
            "kind": "folder",
            "path": "data/sources/ffhq",
            "published": "https://github.com/NVlabs/ffhq-dataset",
        },
        "datasets.ffhq.source",
    )
    with pytest.raises(DataError) as err:
        open_source(cfg, "ffhq", root=tmp_path)
    assert str(err.value) == (
        "datasets.ffhq.source.path: data/sources/ffhq does not exist; "
        "it is published at https://github.com/NVlabs/ffhq-dataset"
    )
