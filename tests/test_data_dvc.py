"""prepare under DVC: a second `dvc repro` does nothing; changing one dataset re-runs only its stage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fixtures.synthetic import write_image_folder

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cwd: Path, *cmd: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_dvc_repro_is_deterministic_and_per_dataset(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    dvc = [sys.executable, "-m", "dvc"]
    write_image_folder(tmp_path / "data" / "sources" / "a", 8, 48, seed=0)
    write_image_folder(tmp_path / "data" / "sources" / "b", 6, 40, ext="png", seed=1)
    common = {"resolutions": [16], "workers": 1}
    datasets = {
        "a": {"source": {"kind": "folder", "path": "data/sources/a"}, "crop": {"mode": "center"}, **common},
        "b": {
            "source": {"kind": "folder", "path": "data/sources/b"},
            "crop": {"mode": "random", "size": 24, "count": 2},
            "rotation": "arbitrary",
            **common,
        },
    }
    params = {"scale": "test", "model": {}, "train": {}, "eval": {}, "datasets": datasets, "runs": {}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stage = {
        "foreach": {"a": {"source": "data/sources/a"}, "b": {"source": "data/sources/b"}},
        "do": {
            "cmd": f"{sys.executable} -m stages.prepare ${{key}}",
            "deps": ["${item.source}"],
            "params": ["datasets.${key}"],
            "outs": ["data/${key}/lmdb"],
        },
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"prepare": stage}}, sort_keys=False))
    _run(tmp_path, "git", "init", "-q")
    _run(tmp_path, *dvc, "init", "-q")

    first = _run(tmp_path, *dvc, "repro")
    assert "Running stage 'prepare@a'" in first and "Running stage 'prepare@b'" in first
    lock = (tmp_path / "dvc.lock").read_text()
    second = _run(tmp_path, *dvc, "repro")
    assert "Running stage" not in second
    _run(tmp_path, *dvc, "repro", "--force")  # a real re-run must give the same output hashes
    assert (tmp_path / "dvc.lock").read_text() == lock

    datasets["b"]["crop"]["count"] = 3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    third = _run(tmp_path, *dvc, "repro")
    assert "Running stage 'prepare@b'" in third and "Running stage 'prepare@a'" not in third
