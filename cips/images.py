"""Image tensors <-> files: [-1, 1] floats to uint8, grids, atomic PNG writes."""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) floats in [-1, 1] -> uint8 with the same layout (clamped, rounded)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 1) -> np.ndarray:
    """A near-square grid of (B, 3, H, W) images in [-1, 1] as an (H', W', 3) uint8 array."""
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = make_grid(to_uint8(images).cpu(), nrow=nrow, padding=padding, pad_value=255)
    return grid.permute(1, 2, 0).numpy()


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_png(array: np.ndarray, path: str | Path) -> None:
    """Save an (H, W, 3) or (H, W) uint8 array as PNG, atomically."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    write_bytes_atomic(buf.getvalue(), path)


def save_npy(array: np.ndarray, path: str | Path) -> None:
    buf = io.BytesIO()
    np.save(buf, array)
    write_bytes_atomic(buf.getvalue(), path)
