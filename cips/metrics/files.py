"""Atomic writes (temporary file beside the target, then rename): nothing half-written is ever seen."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_bytes_atomic(data: bytes, path: str | Path) -> Path:
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
    return path


def write_json_atomic(obj: dict, path: str | Path) -> Path:
    return write_bytes_atomic((json.dumps(obj, indent=2) + "\n").encode(), path)


def write_png(array: np.ndarray, path: str | Path) -> Path:
    """An (H, W, 3) or (H, W) uint8 array as PNG."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return write_bytes_atomic(buf.getvalue(), path)


def save_npz_atomic(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_bytes_atomic(buf.getvalue(), path)


def torch_save_atomic(obj: object, path: str | Path) -> Path:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes_atomic(buf.getvalue(), path)
