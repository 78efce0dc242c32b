"""scripts/budget_probe.py: the probe's params continue the small scale's runs, longer, and change nothing else."""

import importlib.util
from pathlib import Path

import pytest

from cips.resolve import resolved_run, resume_signature
from cips.scale import load_params

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("budget_probe", ROOT / "scripts" / "budget_probe.py")
budget_probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(budget_probe)


def test_probe_params_only_lengthen_the_runs(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(budget_probe.probe_params(7500, ["fashion-cips", "fashion-base"], "table3"))
    probe, small = load_params(path), load_params(ROOT / "configs" / "small.yaml")
    members = probe.members_of("fashion-cips") + probe.members_of("fashion-base")
    assert members == small.members_of("fashion-cips") + small.members_of("fashion-base")
    for m in members:
        # what a checkpoint must agree on to be continued: the small run's 5,000-step checkpoint resumes
        assert resume_signature(probe.run(m)) == resume_signature(small.run(m))
        mine, theirs = resolved_run(probe, m)["train"], resolved_run(small, m)["train"]
        assert mine["train"]["steps"] == 7500 and theirs["train"]["steps"] == 5000
        mine["train"]["steps"] = theirs["train"]["steps"]
        assert mine == theirs
    assert probe.run("fashion-cips-s0").tables == {"table3": "main"}
    assert probe.run("fashion-stylegan2-s0").tables == {}


def test_probe_params_name_an_unknown_run():
    with pytest.raises(SystemExit, match="no run fashion-nope"):
        budget_probe.probe_params(7500, ["fashion-nope"], None)
