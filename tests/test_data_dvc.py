"""prepare under DVC: a second `dvc repro` does nothing; changing one dataset re-runs only its stage. The stage is
dvc.yaml's own prepare stage (less its code deps), iterating the `dvc:` section `cips scale` generates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fixtures.synthetic import write_image_folder

from cips.data.lmdb_io import read_length
from cips.layout import Layout
from cips.plan import stage_key
from cips.scale import with_plan

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
        "a": {"source": {"kind": "folder", "path": "data/sources/a", "watch": "data/sources/a"},
              "crop": {"mode": "center"}, **common},
        "b": {
            "source": {"kind": "folder", "path": "data/sources/b", "watch": "data/sources/b"},
            "crop": {"mode": "random", "size": 24, "count": 2},
            "rotation": "arbitrary",
            **common,
        },
    }
    params = {"scale": "test", "protocol": "ours", "model": {}, "train": {}, "eval": {}, "datasets": datasets,
              "runs": {}}

    def write_params() -> None:  # as `cips scale` writes them: with the generated dvc: section
        (tmp_path / "params.yaml").write_text(with_plan(yaml.safe_dump(params, sort_keys=False), "params.yaml"))

    write_params()
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["prepare"]
    assert stage["foreach"] == "${dvc.datasets}" and stage["do"]["cmd"].startswith("python -m stages.prepare ")
    stage["do"]["cmd"] = stage["do"]["cmd"].replace("python", sys.executable, 1)
    stage["do"]["deps"] = [d for d in stage["do"]["deps"] if not d.startswith(("cips/", "stages/"))]  # code: ROOT's
    assert stage["do"]["deps"] == ["${item.watch}"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"prepare": stage}}, sort_keys=False))
    _run(tmp_path, "git", "init", "-q")
    _run(tmp_path, *dvc, "init", "-q")
    name = {d: f"prepare@{stage_key('test', d)}" for d in datasets}  # prepare@a at the test scale

    first = _run(tmp_path, *dvc, "repro")
    assert f"Running stage '{name['a']}'" in first and f"Running stage '{name['b']}'" in first
    layout = Layout(tmp_path, "test")
    assert read_length(layout.lmdb("a", 16)) == 8 and read_length(layout.lmdb("b", 16)) > 0
    lock = (tmp_path / "dvc.lock").read_text()
    second = _run(tmp_path, *dvc, "repro")
    assert "Running stage" not in second
    _run(tmp_path, *dvc, "repro", "--force")  # a real re-run must give the same output hashes
    assert (tmp_path / "dvc.lock").read_text() == lock

    datasets["b"]["crop"]["count"] = 3
    write_params()
    third = _run(tmp_path, *dvc, "repro")
    assert f"Running stage '{name['b']}'" in third and f"Running stage '{name['a']}'" not in third
