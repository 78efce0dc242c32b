"""Image tensors <-> files: [-1, 1] floats to uint8, grids, atomic PNG writes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import make_grid

from cips.files import save_npy_atomic, write_png


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) floats in [-1, 1] -> uint8 as a PNG writer stores them: floor((x + 1) * 127.5 + 0.5),
    clamped (the convention of torchvision's save_image, so written files equal what metrics stream)."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    x = images.detach().float()
    if not torch.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values (a diverged generator?)")
    return ((x + 1) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 1) -> np.ndarray:
    """A near-square grid of (B, 3, H, W) images in [-1, 1] as an (H', W', 3) uint8 array."""
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = make_grid(to_uint8(images).cpu(), nrow=nrow, padding=padding, pad_value=255)
    return grid.permute(1, 2, 0).numpy()


def save_png(array: np.ndarray, path: str | Path) -> None:
    """Save an (H, W, 3) or (H, W) uint8 array as PNG, atomically."""
    write_png(array, path)


def save_npy(array: np.ndarray, path: str | Path) -> None:
    save_npy_atomic(path, array)
