"""Reader of the idx-ubyte files of Fashion-MNIST (as the Debian package dataset-fashion-mnist ships them)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from cips.data.errors import DataError

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
# train first, then test: the 70,000 images in the order the package lists them
IMAGE_FILES = ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
PUBLISHED = "https://github.com/zalandoresearch/fashion-mnist (Debian package dataset-fashion-mnist)"
LICENCE = "MIT (Zalando SE)"

_IDX_UBYTE_3D = 0x00000803  # magic: unsigned byte, 3 dimensions


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read ({err})") from None


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images of one idx3-ubyte file (optionally gzipped) as a (N, rows, cols) uint8 array."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 16:
        raise DataError(f"{path}: too short for an idx3-ubyte header ({len(data)} bytes)")
    magic, n, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in range(0, 16, 4))
    if magic != _IDX_UBYTE_3D:
        raise DataError(f"{path}: not an idx3-ubyte image file (magic {magic:#010x}, expected 0x00000803)")
    expected = 16 + n * rows * cols
    if len(data) != expected:
        raise DataError(
            f"{path}: header says {n} images of {rows}x{cols} ({expected} bytes), file has {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def image_files(directory: str | Path = DEFAULT_DIR) -> list[Path]:
    """The idx files that make up the dataset, in order; one-line error naming the package when absent."""
    directory = Path(directory)
    files = [directory / name for name in IMAGE_FILES]
    for f in files:
        if not f.is_file():
            raise DataError(
                f"{f}: not found; Fashion-MNIST comes from the Debian package {DEBIAN_PACKAGE} "
                f"(sudo apt-get install {DEBIAN_PACKAGE}, or bash scripts/install.sh)"
            )
    return files


def load_fashion_mnist(directory: str | Path = DEFAULT_DIR) -> np.ndarray:
    """All 70,000 images (train then test) as a (N, 28, 28) uint8 array."""
    return np.concatenate([read_idx_images(f) for f in image_files(directory)])
