"""Seeds: an entry of `runs` that declares `seeds` is one model per seed (its own DVC stages, folder and MLflow
run, grouped by the entry), and a finished (run, seed) is never trained again while its config holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_training import layout, make_project

from cips.layout import Layout
from cips.plan import plan
from cips.resolve import resolved_run
from cips.scale import load_params
from cips.tracking import experiment_name, stage_name
from cips.training import loop
from cips.training.runner import Finished, train_from_params

SEEDS = [0, 1]


def seeds_project(root: Path, **train_overrides) -> Path:
    """The toy project of test_training (tiny networks, 2 steps) with one run, toy-cips, of two seeds."""
    return make_project(root, {"toy-cips": {"dataset": "toy", "seeds": SEEDS}}, **{"steps": 2, **train_overrides})


def test_seeds_expand_into_dvc_stages_and_mlflow_runs(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the project's own store, tmp_path/mlflow.db
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    (tmp_path / ".dvc").mkdir()  # marks tmp_path as the repository root the store lives in
    path = seeds_project(tmp_path)
    params = load_params(path)
    members = params.members_of("toy-cips")
    assert members == ["toy-cips-s0", "toy-cips-s1"]

    runs = plan(params)["runs"]  # the items train@ and evaluate@ iterate
    assert len(runs) == 2 and {item["run"] for item in runs.values()} == set(members)
    assert {item["group"] for item in runs.values()} == {"toy-cips"}
    assert len({item["dir"] for item in runs.values()}) == 2
    for key, item in runs.items():
        assert item["dir"] == str(Layout("", params.scale).run(item["run"]))  # relative to the project root
        assert f"train@{key}" == stage_name("train", params.scale, item["run"])

    for member in members:
        result = train_from_params(member, path, tmp_path, track=True, progress=False)
        assert not isinstance(result, Finished) and result.step == 2 and result.mlflow_run_id

    assert (tmp_path / "mlflow.db").is_file()
    c = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = c.get_experiment_by_name(experiment_name(params.scale, "toy"))
    found = c.search_runs([exp.experiment_id])
    assert len(found) == 2
    by_seed = {r.data.tags["cips.seed"]: r for r in found}
    assert set(by_seed) == {"0", "1"}
    assert {r.data.tags["cips.group"] for r in found} == {"toy-cips"}
    gens = {}
    for seed, member in zip(SEEDS, members, strict=True):
        run = by_seed[str(seed)]
        assert run.info.run_name == member and run.data.tags["cips.run"] == member
        assert run.data.tags["DVC_STAGE"] == stage_name("train", params.scale, member)
        assert run.data.params["train.seed"] == str(seed)
        gen = torch.load(layout(tmp_path).generator(member), weights_only=True)
        assert gen["mlflow_run_id"] == run.info.run_id
        info = json.loads(layout(tmp_path).train_info(member).read_text())
        assert (info["run"], info["group"], info["seed"]) == (member, "toy-cips", seed)
        gens[seed] = gen["g_ema"]
    assert gens[0].keys() == gens[1].keys()
    assert any(not torch.equal(gens[0][k], gens[1][k]) for k in gens[0])  # the seeds trained different models


def test_a_finished_run_is_not_trained_again(tmp_path, monkeypatch):
    path = seeds_project(tmp_path)
    member = "toy-cips-s1"
    first = train_from_params(member, path, tmp_path, track=False, progress=False)
    assert not isinstance(first, Finished) and first.step == 2
    gen_path, ckpt_path = layout(tmp_path).generator(member), layout(tmp_path).checkpoint(member)
    gen_bytes, gen_mtime = gen_path.read_bytes(), gen_path.stat().st_mtime_ns
    ckpt_bytes, ckpt_mtime = ckpt_path.read_bytes(), ckpt_path.stat().st_mtime_ns
    info = json.loads(layout(tmp_path).train_info(member).read_text())
    layout(tmp_path).train_info(member).unlink()  # rewritten from generator.pt

    with monkeypatch.context() as m:
        m.setattr(loop, "train", lambda *a, **k: pytest.fail("a finished run was trained again"))
        m.setattr(loop.Trainer, "train_step", lambda *a, **k: pytest.fail("a training step ran"))
        again = train_from_params(member, path, tmp_path, track=False, progress=False)
        assert isinstance(again, Finished) and again.run == member and again.path == gen_path
        assert again.info == info
        # an operational knob changes nothing the model was trained from: still finished
        path = seeds_project(tmp_path, log_every=7)
        assert isinstance(train_from_params(member, path, tmp_path, track=False, progress=False), Finished)
    assert json.loads(layout(tmp_path).train_info(member).read_text()) == info
    assert gen_path.read_bytes() == gen_bytes and gen_path.stat().st_mtime_ns == gen_mtime
    assert ckpt_path.read_bytes() == ckpt_bytes and ckpt_path.stat().st_mtime_ns == ckpt_mtime
    assert not layout(tmp_path).generator("toy-cips-s0").exists()  # the other seed is its own model

    path = seeds_project(tmp_path, lr=0.001)  # a knob the model is trained from: train again, from scratch
    retrained = train_from_params(member, path, tmp_path, track=False, progress=False)
    assert not isinstance(retrained, Finished)
    assert retrained.step == 2 and retrained.resumed_from is None
    assert gen_path.read_bytes() != gen_bytes
    gen = torch.load(gen_path, weights_only=True)
    assert gen["resolved"] == resolved_run(load_params(path), member)["train"]
    assert gen["resolved"]["train"]["lr"] == 0.001


def test_lanes_pick_only_the_unfinished_models(tmp_path):
    from cips.training.lanes import unfinished

    path = seeds_project(tmp_path)
    assert unfinished(path, tmp_path) == ["toy-cips-s0", "toy-cips-s1"]
    train_from_params("toy-cips-s0", path, tmp_path, track=False, progress=False)
    assert unfinished(path, tmp_path) == ["toy-cips-s1"]
    path = seeds_project(tmp_path, lr=0.001)  # a new config: the trained seed is unfinished again
    assert unfinished(path, tmp_path) == ["toy-cips-s0", "toy-cips-s1"]
