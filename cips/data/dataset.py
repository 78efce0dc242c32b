"""The training Dataset: full images from an image LMDB as float tensors in [-1, 1].

Patch sampling and cylindrical crops happen on the batch (training), so this returns whole images.
Each process (DataLoader worker) opens its own read-only environment on first use; the object
itself holds no handle when pickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cips.data import codec
from cips.data.errors import DataError
from cips.data.lmdb_io import (
    index_key,
    is_lmdb_dir,
    open_readonly,
    read_length,
    read_manifest,
    resolution_dirs,
)


def resolve_lmdb(path: str | Path, resolution: int | None = None) -> Path:
    """The environment of `path`: itself if it is one, else its <resolution>/ subdirectory."""
    path = Path(path)
    if is_lmdb_dir(path):
        return path
    dirs = resolution_dirs(path)
    if not dirs:
        raise DataError(f"{path}: neither an LMDB (data.mdb) nor a directory of <resolution>/ LMDBs")
    if resolution is None:
        if len(dirs) == 1:
            return next(iter(dirs.values()))
        raise DataError(f"{path}: holds resolutions {sorted(dirs)}; say which one")
    if resolution not in dirs:
        raise DataError(f"{path}: no resolution {resolution} (has {sorted(dirs)})")
    return dirs[resolution]


class ImageLMDBDataset(Dataset):
    """Images of an LMDB (ours or the official CIPS layout) as (3, H, W) tensors.

    flip: random horizontal flip (p = 0.5, torch's RNG, so DataLoader worker seeding applies).
    resolution: picks <path>/<resolution>/ when `path` is a dataset directory.
    uint8: return uint8 tensors in [0, 255] (for metrics) instead of float in [-1, 1].
    Grey images are replicated to RGB; non-square images (official LMDBs and `crop.mode: per-load` keep the
    aspect ratio) are centre-cropped to a square unless `square` is false (training draws its own square).
    """

    def __init__(
        self, path: str | Path, flip: bool = False, *, resolution: int | None = None, uint8: bool = False,
        square: bool = True,
    ) -> None:
        self.path = resolve_lmdb(path, resolution)
        self.flip = flip
        self.uint8 = uint8
        self.square = square
        self.length = read_length(self.path)
        self.manifest: dict[str, Any] | None = read_manifest(self.path)
        encoding = (self.manifest or {}).get("encoding", {})
        self.format: str | None = encoding.get("format")
        self.shape: tuple[int, ...] | None = tuple(encoding["shape"]) if "shape" in encoding else None
        self.resolution: int | None = (self.manifest or {}).get("resolution") or (
            int(self.path.name) if self.path.name.isdigit() else None
        )
        self._env = None
        self._pid = -1

    def __len__(self) -> int:
        return self.length

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_env"], state["_pid"] = None, -1
        return state

    def read(self, index: int) -> np.ndarray:
        """Image `index` as an H x W x 3 uint8 array (may be read-only)."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} images in {self.path}")
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = open_readonly(self.path), os.getpid()
        with self._env.begin(buffers=True) as txn:
            value = txn.get(index_key(index))
            if value is None:
                raise DataError(
                    f"{self.path}: key {index_key(index).decode()} missing (length {self.length})"
                )
            arr = codec.decode(bytes(value), self.format, self.shape)
        h, w = arr.shape[:2]
        if h != w and self.square:
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            arr = arr[top : top + side, left : left + side]
        if arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        return arr

    def __getitem__(self, index: int) -> torch.Tensor:
        arr = self.read(index)
        if self.flip and torch.rand(()) < 0.5:
            arr = arr[:, ::-1]
        chw = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))  # a writable copy
        if self.uint8:
            return chw
        return chw.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)
