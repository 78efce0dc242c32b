"""MLflow store resolution, concurrent creation, and evaluation metrics on the training run."""

import multiprocessing as mp

import numpy as np
import pytest

from cips import tracking
from cips.scale import parse_params


def test_queued_experiment_copies_resolve_to_the_real_repository(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / ".dvc").mkdir()
    copy = tmp_path / ".dvc/tmp/exps/tmpabc123"
    (copy / ".dvc").mkdir(parents=True)  # a queued run's copy is a repository of its own
    assert tracking.repository_root(copy / "runs") == tmp_path
    assert tracking.tracking_uri(copy) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert tracking.repository_root(tmp_path / "runs") == tmp_path
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/x.db")
    assert tracking.tracking_uri(copy) == "sqlite:////elsewhere/x.db"


def _create(root: str, name: str, queue) -> None:
    try:
        c = tracking.client(root)
        exp = tracking.ensure_experiment(c, "cips-test-toy", root)
        run = c.create_run(exp, run_name=name)
        c.log_metric(run.info.run_id, "fid", 1.0)
        queue.put("ok")
    except Exception as err:  # reported to the parent
        queue.put(f"{type(err).__name__}: {err}")


def test_two_processes_creating_a_fresh_store_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / ".dvc").mkdir()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_create, args=(str(tmp_path), f"r{i}", queue)) for i in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join()
    assert results == ["ok", "ok"]
    c = tracking.client(tmp_path)
    exp = c.get_experiment_by_name("cips-test-toy")
    assert exp.artifact_location.startswith((tmp_path / "mlartifacts").as_uri())
    assert sorted(r.info.run_name for r in c.search_runs([exp.experiment_id])) == ["r0", "r1"]


@pytest.fixture
def run_cfg():
    params = parse_params({
        "scale": "test", "model": {"size": 16}, "train": {}, "eval": {},
        "datasets": {"toy": {"source": {"kind": "folder", "path": "x"}, "resolutions": [16]}},
        "runs": {"toy-run": {"dataset": "toy"}},
    })
    return params.run("toy-run")


def test_evaluation_lands_on_the_training_run_or_a_new_one(tmp_path, monkeypatch, run_cfg):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    training = tracking.TrainingRun(run_cfg, "test", root=tmp_path, log_system_metrics=False)
    training.finish()
    metrics = {"run": "toy-run", "dataset": "toy", "fid": 12.5, "kid": 0.01, "precision": 0.5, "recall": 0.25,
               "floor": {"fid": 3.0}, "checkpoint": {"step": 7},
               "protocol": {"fid": {"n_generated": 16, "feature_network": "inception-v3-compat"}}}
    grid = np.zeros((8, 8, 3), np.uint8)
    assert tracking.log_evaluation(training.run_id, metrics, grid, root=tmp_path) == training.run_id
    c = tracking.client(tmp_path)
    r = c.get_run(training.run_id)
    assert r.data.metrics["fid"] == 12.5 and r.data.metrics["floor_fid"] == 3.0
    assert r.data.tags["eval.protocol.fid.feature_network"] == "inception-v3-compat"
    assert r.data.params["model.embeddings"] == "True" and r.data.tags["cips.run"] == "toy-run"
    assert "eval_samples.png" in [a.path for a in c.list_artifacts(training.run_id)]
    other = tracking.log_evaluation(None, metrics, None, root=tmp_path, run=run_cfg, scale="test")
    assert other != training.run_id and c.get_run(other).info.run_name == "toy-run-eval"


def test_git_dirty_ignores_what_the_pipeline_rewrites(tmp_path):
    import subprocess

    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
           "PATH": "/usr/bin:/bin"}
    (tmp_path / "runs").mkdir()
    for name in ("dvc.lock", "runs/metrics.json", "code.py"):
        (tmp_path / name).write_text("a")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True)
    (tmp_path / "dvc.lock").write_text("b")
    (tmp_path / "runs/metrics.json").write_text("b")
    state = tracking.git_state(tmp_path)
    assert len(state["git.commit"]) == 40 and state["git.dirty"] == "false"
    (tmp_path / "code.py").write_text("b")
    assert tracking.git_state(tmp_path)["git.dirty"] == "true"
