"""Sources of images: a folder, a zip, an LSUN category LMDB, an official CIPS LMDB, Fashion-MNIST, skimage.

A source is a fixed, sorted list of items; `load(i)` decodes item i fully (so a corrupt file fails
there, where the caller can skip it). Sources are picklable and open files lazily in each process,
so one object serves a pool of workers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cips.config import SourceConfig
from cips.data import fashion_mnist, skimage_photos
from cips.data.errors import DataError
from cips.data.lmdb_io import is_lmdb_dir, open_readonly, read_length

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})


def _decode(data: bytes, draft: int | None = None) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    if draft is not None and image.format == "JPEG":
        # libjpeg's DCT-domain scaling by 1/2, 1/4 or 1/8, keeping both sides >= draft
        image.draft("RGB", (draft, draft))
    image.load()  # decode now: a truncated or corrupt file raises here
    return image


class Source:
    """A sorted list of images; subclasses define the items and how one is loaded."""

    kind = ""

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        self.path = Path(path)
        self.limit = limit

    def _truncate(self, n: int) -> int:
        return n if self.limit is None else min(n, self.limit)

    def __len__(self) -> int:
        raise NotImplementedError

    def name(self, index: int) -> str:
        """A readable name of item `index` (a file name or key) for logs and the manifest."""
        raise NotImplementedError

    def load(self, index: int, draft: int | None = None) -> Image.Image:
        """Item `index`, decoded; raises (OSError, ValueError, ...) when it cannot be read.

        draft: JPEG items may be decoded at a reduced scale whose sides stay >= draft.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the source."""
        return {"kind": self.kind, "path": str(self.path), "items": len(self), "limit": self.limit}

    # lazily opened handles are per process: drop them when pickled
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for key in [k for k in state if k.startswith("_handle")]:
            state[key] = None
        return state


class FolderSource(Source):
    """Every jpg/jpeg/png/webp file (any case) under a directory, recursively, sorted by relative path."""

    kind = "folder"

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        super().__init__(path, limit)
        files = []
        for dirpath, dirnames, filenames in os.walk(self.path, followlinks=True):
            dirnames.sort()
            for f in filenames:
                if Path(f).suffix.lower() in IMAGE_EXTENSIONS:
                    files.append(Path(dirpath, f).relative_to(self.path).as_posix())
        files.sort()
        self.files = files[: self._truncate(len(files))]

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return self.files[index]

    def load(self, index: int, draft: int | None = None) -> Image.Image:
        with open(self.path / self.files[index], "rb") as f:
            return _decode(f.read(), draft)


class ZipSource(Source):
    """Every jpg/jpeg/png/webp member (any case) of a zip archive, sorted by name."""

    kind = "zip"

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        super().__init__(path, limit)
        try:
            with zipfile.ZipFile(self.path) as z:
                names = sorted(
                    info.filename
                    for info in z.infolist()
                    if not info.is_dir()
                    and Path(info.filename).suffix.lower() in IMAGE_EXTENSIONS
                    and not info.filename.startswith("__MACOSX/")
                )
        except (zipfile.BadZipFile, OSError) as err:
            raise DataError(f"{self.path}: not a readable zip archive ({err})") from None
        self.members = names[: self._truncate(len(names))]
        self._handle_zip: zipfile.ZipFile | None = None
        self._handle_pid = -1

    def __len__(self) -> int:
        return len(self.members)

    def name(self, index: int) -> str:
        return self.members[index]

    def load(self, index: int, draft: int | None = None) -> Image.Image:
        if self._handle_zip is None or self._handle_pid != os.getpid():
            self._handle_zip, self._handle_pid = zipfile.ZipFile(self.path), os.getpid()
        return _decode(self._handle_zip.read(self.members[index]), draft)


class LsunSource(Source):
    """An LSUN category LMDB as published (keys: image ids, values: webp bytes), in key order."""

    kind = "lsun"

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        super().__init__(path, limit)
        if not is_lmdb_dir(self.path):
            raise DataError(f"{self.path}: not an LMDB directory (no data.mdb)")
        keys: list[bytes] = []
        with open_readonly(self.path).begin() as txn:
            for key in txn.cursor().iternext(keys=True, values=False):
                keys.append(bytes(key))
                if self.limit is not None and len(keys) >= self.limit:
                    break
        self.keys = keys
        self._handle_env = None
        self._handle_pid = -1

    def __len__(self) -> int:
        return len(self.keys)

    def name(self, index: int) -> str:
        return self.keys[index].decode("utf-8", "replace")

    def load(self, index: int, draft: int | None = None) -> Image.Image:
        if self._handle_env is None or self._handle_pid != os.getpid():
            self._handle_env, self._handle_pid = open_readonly(self.path), os.getpid()
        with self._handle_env.begin() as txn:
            value = txn.get(self.keys[index])
        if value is None:
            raise KeyError(f"key {self.name(index)} vanished")
        return _decode(bytes(value), draft)


class OfficialLmdbSource(LsunSource):
    """One resolution of an LMDB from the official CIPS prepare_data.py (keys 'length', '0000000', ...)."""

    kind = "official-lmdb"

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        Source.__init__(self, path, limit)
        if not is_lmdb_dir(self.path):
            subdirs = (
                sorted(p.name for p in self.path.iterdir() if p.is_dir() and is_lmdb_dir(p))
                if (self.path.is_dir())
                else []
            )
            hint = (
                f" (it holds resolutions {', '.join(subdirs)}: point path at one of them)" if subdirs else ""
            )
            raise DataError(f"{self.path}: not an LMDB directory (no data.mdb){hint}")
        n = read_length(self.path)
        self.keys = [f"{i:07d}".encode() for i in range(self._truncate(n))]
        self._handle_env = None
        self._handle_pid = -1


class FashionMnistSource(Source):
    """Fashion-MNIST from the idx files of the Debian package: 70,000 grey 28x28 images, train then test."""

    kind = "fashion-mnist"

    def __init__(self, path: str | Path = fashion_mnist.DEFAULT_DIR, limit: int | None = None) -> None:
        super().__init__(path or fashion_mnist.DEFAULT_DIR, limit)
        self.files = fashion_mnist.image_files(self.path)
        total = 0
        for f in self.files:  # the headers give the count without decompressing everything
            with gzip.open(f, "rb") as fh:
                header = fh.read(16)
            total += int.from_bytes(header[4:8], "big") if len(header) == 16 else 0
        self.count = self._truncate(total)
        self._handle_images: np.ndarray | None = None

    def _images(self) -> np.ndarray:
        if self._handle_images is None:
            self._handle_images = fashion_mnist.load_fashion_mnist(self.path)
        return self._handle_images

    def preload(self) -> None:
        """Read the arrays once in this process (forked workers then share them)."""
        self._images()

    def __len__(self) -> int:
        return self.count

    def name(self, index: int) -> str:
        return f"fashion-mnist[{index}]"

    def load(self, index: int, draft: int | None = None) -> Image.Image:
        return Image.fromarray(self._images()[index], mode="L")

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["files"] = {f.name: _sha256_file(f) for f in self.files}
        out["package"] = fashion_mnist.DEBIAN_PACKAGE
        return out


class SkimagePhotosSource(Source):
    """CC0 / public-domain photographs bundled with scikit-image, in the order listed."""

    kind = "skimage"

    def __init__(self, path: str | Path, names: list[str], limit: int | None = None) -> None:
        directory = Path(path) if path else skimage_photos.data_dir()
        super().__init__(directory, limit)
        names = names[: self._truncate(len(names))]
        self.names = names
        self.files = [skimage_photos.image_path(n, directory) for n in names]
        self.licences = {n: skimage_photos.licence_of(n, directory) for n in names}

    def __len__(self) -> int:
        return len(self.names)

    def name(self, index: int) -> str:
        return self.files[index].name

    def load(self, index: int, draft: int | None = None) -> Image.Image:
        return _decode(self.files[index].read_bytes(), draft)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["path"] = "skimage/data"  # the installed package's folder; its location varies by machine
        out["package"] = f"scikit-image {_package_version('scikit-image')}"
        out["images"] = {
            f.name: {"licence": self.licences[n], "sha256": _sha256_file(f)}
            for n, f in zip(self.names, self.files, strict=True)
        }
        return out


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def open_source(cfg: SourceConfig, dataset: str = "", root: str | Path = ".") -> Source:
    """The source a dataset's config names; a missing path is one line naming it and where to get the data."""
    key = f"datasets.{dataset}.source" if dataset else "source"
    if cfg.kind == "fashion-mnist":
        return FashionMnistSource(Path(root, cfg.path) if cfg.path else fashion_mnist.DEFAULT_DIR, cfg.limit)
    if cfg.kind == "skimage":
        return SkimagePhotosSource(Path(root, cfg.path) if cfg.path else "", cfg.images or [], cfg.limit)
    path = Path(root, cfg.path)
    if not path.exists():
        where = f"; it is published at {cfg.published}" if cfg.published else ""
        raise DataError(f"{key}.path: {cfg.path} does not exist{where}")
    if cfg.kind == "folder":
        if not path.is_dir():
            raise DataError(f"{key}.path: {cfg.path} is not a directory (kind 'folder')")
        return FolderSource(path, cfg.limit)
    if cfg.kind == "zip":
        return ZipSource(path, cfg.limit)
    if cfg.kind == "lsun":
        return LsunSource(path, cfg.limit)
    if cfg.kind == "official-lmdb":
        return OfficialLmdbSource(path, cfg.limit)
    raise DataError(f"{key}.kind: unknown source kind {cfg.kind!r}")
