"""A writer killed mid-way leaves the previous checkpoint, JSON or NPZ file intact.

The writer is a child process whose file-size limit (RLIMIT_FSIZE) lies inside the new file, with SIGXFSZ at
its default action: the kernel kills it at the write that crosses the limit, wherever the writer is.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cips.files import save_npz_atomic, write_json_atomic
from cips.models.checkpoint import save_atomic

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1 << 16  # bytes: the new files are far larger, the old ones smaller

WRITER = """
import resource, signal, sys
import numpy as np, torch
from cips.files import save_npz_atomic, write_json_atomic
from cips.models.checkpoint import save_atomic

kind, path = sys.argv[1], sys.argv[2]
new = np.arange(1_000_000, dtype=np.float32)  # 4 MB
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it by default (the write would just fail)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
if kind == "checkpoint":
    save_atomic({{"step": 2, "g": torch.from_numpy(new)}}, path)
elif kind == "json":
    write_json_atomic({{"step": 2, "values": new[:100_000].tolist()}}, path)
else:
    save_npz_atomic(path, {{"x": new}})
print("the write finished")
"""


def _old(kind: str, path: Path) -> None:
    if kind == "checkpoint":
        save_atomic({"step": 1, "g": torch.arange(10.0)}, path)
    elif kind == "json":
        write_json_atomic({"step": 1, "values": [1, 2, 3]}, path)
    else:
        save_npz_atomic(path, {"x": np.arange(10, dtype=np.float32)})


def _read(kind: str, path: Path):
    if kind == "checkpoint":
        return torch.load(path, weights_only=False)
    if kind == "json":
        return json.loads(path.read_text())
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("kind,name", [("checkpoint", "checkpoint.pt"), ("json", "metrics.json"),
                                       ("npz", "fid_ref.npz")])
def test_a_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path, kind, name):
    path = tmp_path / name
    _old(kind, path)
    before = path.read_bytes()
    assert len(before) < LIMIT
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", WRITER.format(limit=LIMIT), kind, str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGXFSZ, (proc.returncode, proc.stderr[-2000:])
    assert "the write finished" not in proc.stdout
    assert path.read_bytes() == before  # not truncated, not half-replaced
    old = _read(kind, path)
    assert (old["step"] == 1) if kind != "npz" else np.array_equal(old["x"], np.arange(10, dtype=np.float32))
    _old(kind, path)  # a later write succeeds beside whatever the killed one left
    assert path.read_bytes() == before
