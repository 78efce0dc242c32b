"""The image LMDB: layout, a deterministic writer, atomic directories and read helpers.

Layout (the official CIPS prepare_data.py one, plus a manifest): keys b"0000000", b"0000001", ...
(7-digit zero-padded index) hold encoded images; b"length" holds the count as ASCII decimal;
b"manifest" holds JSON describing source, transforms, seed, encoding and a content hash. A
dataset directory holds one such environment per resolution: <dir>/<resolution>/data.mdb.

The writer appends keys in sorted order in fixed-size transactions, writes b"length" and b"manifest"
last and deletes lock.mdb, so equal inputs give a byte-identical data.mdb and an environment without
b"length" is recognisably incomplete. Readers open environments read-only without a lock file, so
reading never changes the files (DVC sees the same hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb

from cips.data.errors import DataError

MAP_SIZE = 1 << 40  # address space only: without writemap the file grows with the data
MANIFEST_FORMAT = "cips-repro-lmdb/1"
LENGTH_KEY = b"length"
MANIFEST_KEY = b"manifest"


def index_key(i: int) -> bytes:
    return f"{i:07d}".encode()


def is_lmdb_dir(path: str | Path) -> bool:
    return Path(path, "data.mdb").is_file()


# read-only environments of this process, one per data file: py-lmdb refuses to open the same file
# twice in a process, so every reader (Dataset, source, info) shares one; (dev, inode) -> (pid, env)
_open_envs: dict[tuple[int, int], tuple[int, lmdb.Environment]] = {}


def open_readonly(path: str | Path) -> lmdb.Environment:
    """The process's shared read-only environment of `path` (no lock file, so reading never writes).

    An environment inherited through fork is closed in the child (its own copy) and opened afresh.
    Files replaced at the same path are new files (a new inode), so they get a new environment while
    holders of the old one keep reading the old files. Callers must not close it.
    """
    path = Path(path)
    data = path / "data.mdb"
    try:
        st = os.stat(data)
    except OSError:
        raise DataError(f"{path}: not an LMDB directory (no data.mdb)") from None
    key, pid = (st.st_dev, st.st_ino), os.getpid()
    hit = _open_envs.get(key)
    if hit is not None:
        if hit[0] == pid:
            return hit[1]
        with contextlib.suppress(lmdb.Error):
            hit[1].close()  # inherited from the parent: closes this process's copy only
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=256)
    except lmdb.Error as err:
        raise DataError(f"{path}: cannot open LMDB ({err})") from None
    _open_envs[key] = (pid, env)
    return env


def read_length(path: str | Path) -> int:
    """The b"length" entry; a one-line error if it is missing (an incomplete or foreign LMDB)."""
    with open_readonly(path).begin() as txn:
        raw = txn.get(LENGTH_KEY)
        raw = None if raw is None else bytes(raw)
    if raw is None:
        raise DataError(f"{path}: no 'length' key: an incomplete write or not an image LMDB")
    try:
        return int(bytes(raw).decode("ascii"))
    except ValueError:
        raise DataError(f"{path}: 'length' is not a decimal count ({raw[:20]!r})") from None


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of an LMDB written here, or None for one in the official layout (no manifest)."""
    with open_readonly(path).begin() as txn:
        raw = txn.get(MANIFEST_KEY)
        raw = None if raw is None else bytes(raw)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise DataError(f"{path}: 'manifest' is not valid JSON") from None


def resolution_dirs(path: str | Path) -> dict[int, Path]:
    """{resolution: environment} of a dataset directory (numeric subdirectories holding an LMDB)."""
    path = Path(path)
    if not path.is_dir():
        return {}
    return {int(p.name): p for p in sorted(path.iterdir()) if p.name.isdigit() and is_lmdb_dir(p)}


def content_hash(path: str | Path) -> str:
    """sha256 over the image values in index order (what the manifest's content_sha256 records)."""
    n = read_length(path)
    h = hashlib.sha256()
    with open_readonly(path).begin(buffers=True) as txn:
        for i in range(n):
            value = txn.get(index_key(i))
            if value is None:
                raise DataError(f"{path}: key {index_key(i).decode()} missing (length says {n})")
            _hash_value(h, bytes(value))
    return h.hexdigest()


def _hash_value(h: Any, value: bytes) -> None:
    h.update(len(value).to_bytes(8, "big"))
    h.update(value)


class LmdbWriter:
    """Appends images under sequential keys; `finish` writes length and manifest and closes."""

    def __init__(self, path: str | Path, commit_every: int = 1000) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=False)
        # sync is done once at the end; meminit zeroes unused page bytes so the file is deterministic
        self.env = lmdb.open(str(self.path), map_size=MAP_SIZE, sync=False, meminit=True, max_dbs=0)
        self.commit_every = commit_every
        self.count = 0
        self._hash = hashlib.sha256()
        self._txn = self.env.begin(write=True)

    def put(self, value: bytes) -> int:
        """Store one image; returns its index."""
        index = self.count
        self._txn.put(index_key(index), value, append=True)
        _hash_value(self._hash, value)
        self.count += 1
        if self.count % self.commit_every == 0:
            self._txn.commit()
            self._txn = self.env.begin(write=True)
        return index

    @property
    def content_sha256(self) -> str:
        return self._hash.hexdigest()

    def finish(self, manifest: dict[str, Any]) -> None:
        """Write b"length" and b"manifest" (the markers of a complete LMDB), sync, close, drop lock.mdb."""
        self._txn.put(LENGTH_KEY, str(self.count).encode("ascii"), append=True)
        data = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        self._txn.put(MANIFEST_KEY, data, append=True)
        self._txn.commit()
        self.env.sync(True)
        self.env.close()
        (self.path / "lock.mdb").unlink(missing_ok=True)

    def abort(self) -> None:
        with contextlib.suppress(lmdb.Error):
            self._txn.abort()
        with contextlib.suppress(lmdb.Error):
            self.env.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(dest: Path) -> None:
    """Leftovers of killed runs: .<name>.partial-<pid>-* whose process is gone."""
    prefix = f".{dest.name}.partial-"
    for p in dest.parent.glob(prefix + "*"):
        pid = p.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(dest: str | Path) -> Iterator[Path]:
    """Yield a hidden temporary sibling of `dest`; on success it replaces `dest`, on any error it is removed.

    A run killed outright leaves only `.<name>.partial-<pid>-*`, never something at `dest`, and the
    next run removes that leftover.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-{os.getpid()}-", dir=dest.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    if dest.exists() or dest.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-{os.getpid()}-", dir=dest.parent))
        os.replace(dest, old / "previous")
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)
