"""Synthetic inputs for tests and benchmarks: image folders, an LSUN-style LMDB, an official-layout LMDB."""

from __future__ import annotations

import io
from pathlib import Path

import lmdb
import numpy as np
from PIL import Image


def random_image(rng: np.random.Generator, width: int, height: int | None = None) -> Image.Image:
    """A smooth random RGB image (coarse noise upsampled bicubically): photo-like to compress and resize."""
    height = height or width
    coarse = (rng.random((max(2, height // 8), max(2, width // 8), 3)) * 255).astype(np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)


def write_image_folder(
    path: str | Path,
    n: int,
    size: int | tuple[int, int] = 64,
    *,
    ext: str = "jpg",
    seed: int = 0,
    quality: int = 90,
) -> list[Path]:
    """n images of `size` (side or (w, h)) as path/<index>.<ext>; returns the files in order."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        f = path / f"{i:06d}.{ext}"
        image = random_image(rng, w, h)
        if ext.lower() in ("jpg", "jpeg"):
            image.save(f, format="JPEG", quality=quality)
        else:
            image.save(f)
        files.append(f)
    return files


def _encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def write_lsun_lmdb(path: Path, n: int, seed: int = 0) -> list[Image.Image]:
    """An LMDB as LSUN publishes a category: 40-hex-digit ids as keys, webp bytes as values."""
    rng = np.random.default_rng(seed)
    images = [random_image(rng, 24, 20) for _ in range(n)]
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, image in enumerate(images):
            key = f"{(i * 7919) % 1000:040x}".encode()
            txn.put(key, _encoded(image, "WEBP", lossless=True))
    env.close()
    return images


def write_official_lmdb(root: Path, sizes: list[int], n: int, seed: int = 0, aspect: float = 1.0) -> Path:
    """The official prepare_data.py layout: <root>/<size>/ with 'length' and 7-digit keys, JPEG values."""
    rng = np.random.default_rng(seed)
    images = [random_image(rng, int(64 * aspect), 64) for _ in range(n)]
    for size in sizes:
        (root / str(size)).mkdir(parents=True, exist_ok=True)
        env = lmdb.open(str(root / str(size)), map_size=1 << 26, readahead=False)
        with env.begin(write=True) as txn:
            txn.put(b"length", str(n).encode())
            for i, image in enumerate(images):
                w, h = image.size
                scale = size / min(w, h)  # shorter side to size, aspect kept, as the official resize does
                resized = image.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
                txn.put(f"{i:07d}".encode(), _encoded(resized, "JPEG", quality=85))
        env.close()
    return root
