"""Atomic writes (a temporary file beside the target, then rename): nothing half-written is ever seen."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (no import-time side effect)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at `path` only when the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the permissions open() would
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(data: bytes, path: str | Path) -> Path:
    with atomic_write(path) as f:
        f.write(data)
    return Path(path)


def write_json_atomic(obj: dict, path: str | Path) -> Path:
    return write_bytes_atomic((json.dumps(obj, indent=2) + "\n").encode(), path)


def write_png(array: np.ndarray, path: str | Path) -> Path:
    """An (H, W, 3) or (H, W) uint8 array as PNG."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return write_bytes_atomic(buf.getvalue(), path)


def save_npz_atomic(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return Path(path)


def save_skipped(path: str | Path, reason: str) -> Path:
    """The output of an analysis stage that had nothing to analyse: an .npz holding only why."""
    return save_npz_atomic(path, {"skipped": np.array(reason)})


def skipped_reason(path: str | Path) -> str | None:
    """Why the analysis output `path` is empty (save_skipped), or None when it holds data or is missing."""
    if not Path(path).is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return str(z["skipped"]) if "skipped" in z.files else None


def save_npy_atomic(path: str | Path, array: np.ndarray) -> Path:
    with atomic_write(path) as f:
        np.save(f, array)
    return Path(path)


def torch_save_atomic(obj: object, path: str | Path) -> Path:
    """torch.save streamed into the temporary file (checkpoints can be large)."""
    with atomic_write(path) as f:
        torch.save(obj, f)
    return Path(path)
