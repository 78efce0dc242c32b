"""Training on a tiny LMDB: every run kind, exact resume, signals, bad params, divergence, DDP, MLflow."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from fixtures.toy import blob_images, write_lmdb

from cips.config import ConfigError, ModelConfig, from_dict
from cips.layout import Layout
from cips.models import build_discriminator
from cips.scale import load_params
from cips.training import loop
from cips.training.runner import train_from_params

REPO = Path(__file__).resolve().parents[1]
SIZE = 16

BASE = {
    "scale": "test",
    "model": {"size": SIZE, "width": 16, "depth": 4, "style_dim": 16, "n_mlp": 2, "channel_base": 128,
              "channel_max": 16, "discriminator": {"channel_base": 128, "channel_max": 16, "mbstd_group": 2}},
    "train": {"steps": 3, "batch": 4, "r1_every": 2, "checkpoint_every": 2, "log_every": 1, "sample_every": 2,
              "n_samples": 4, "workers": 0, "device": "cpu", "ema_halflife_kimg": 0.01},
    "eval": {},
    "datasets": {"toy": {"source": {"kind": "folder", "path": "x"}, "resolutions": [SIZE]}},
    "runs": {
        "toy-cips": {"dataset": "toy"},
        "toy-stylegan2": {"dataset": "toy", "model": {"arch": "stylegan2"}},
        "toy-patch": {"dataset": "toy", "train": {"patch": 8}},
        "toy-panorama": {"dataset": "toy", "model": {"coords": "cylindrical", "panorama_width": 48}},
        "toy-nonoise": {"dataset": "toy", "model": {"noise": False}},
    },
}


def layout(root: Path) -> Layout:
    """Where the toy project at `root` keeps its files (the test scale's folders)."""
    return Layout(root, BASE["scale"])


def make_project(root: Path, runs: dict | None = None, **train_overrides) -> Path:
    """A project directory with params.yaml (BASE, or its `runs` replaced) and the toy LMDB; returns the
    params path."""
    params = yaml.safe_load(yaml.safe_dump(BASE))
    params["train"].update(train_overrides)
    if runs is not None:
        params["runs"] = runs
    root.mkdir(parents=True, exist_ok=True)
    lmdb = layout(root).lmdb("toy", SIZE)
    if not lmdb.exists():
        write_lmdb(lmdb, blob_images(24, SIZE, seed=0))
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def train(root: Path, run: str = "toy-cips", track: bool = False, **overrides):
    return train_from_params(run, make_project(root, **overrides), root, track=track, progress=False)


def trainer(root: Path, run: str = "toy-cips", **overrides) -> loop.Trainer:
    """A Trainer of `run` in project `root`, without MLflow, for tests that look inside one step."""
    cfg = load_params(make_project(root, **overrides)).run(run)
    return loop.Trainer(cfg, layout(root).lmdb("toy"), layout(root).run(run), "test", track=False, progress=False)


def ckpt(root: Path, run: str = "toy-cips") -> dict:
    return torch.load(layout(root).checkpoint(run), weights_only=False)


def assert_same_state(a: dict, b: dict) -> None:
    for part in ("g", "g_ema", "d"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=0, atol=0, msg=f"{part}.{k}")
    for part in ("g_opt", "d_opt"):
        for i, state in a[part]["state"].items():
            for k, v in state.items():
                torch.testing.assert_close(v, b[part]["state"][i][k], rtol=0, atol=0)


@pytest.mark.parametrize("run", ["toy-cips", "toy-stylegan2", "toy-patch", "toy-panorama"])
def test_every_run_kind_trains_and_writes_its_outputs(tmp_path, run):
    result = train(tmp_path, run)
    assert result.step == 3 and all(torch.isfinite(torch.tensor(v)) for v in result.last.values())
    info = json.loads(layout(tmp_path).train_info(run).read_text())
    assert info["step"] == 3 and info["params_g"] > 0 and info["params_d"] > 0 and info["img_per_s"] > 0
    c = ckpt(tmp_path, run)
    assert c["step"] == 3 and c["seen_img"] == 12 and set(c) >= {"g", "g_ema", "d", "g_opt", "d_opt", "rng", "run"}
    gen = torch.load(layout(tmp_path).generator(run), weights_only=True)  # what evaluation and analysis read
    assert gen["step"] == 3 and gen["train_info"] == info and gen["model"] == c["model"]
    for k, v in c["g_ema"].items():
        torch.testing.assert_close(gen["g_ema"][k], v, rtol=0, atol=0, msg=f"g_ema.{k}")
    if run == "toy-patch":  # D was built for 8x8 patches, G still renders 16x16 images
        from cips.models.checkpoint import load_generator

        assert c["run"]["train"]["patch"] == 8
        model = from_dict(ModelConfig, c["model"], "model")
        build_discriminator(model, size=8).load_state_dict(c["d"])  # strict: every key and shape
        with pytest.raises(RuntimeError, match="state_dict"):
            build_discriminator(model, size=SIZE).load_state_dict(c["d"])
        assert load_generator(layout(tmp_path).generator(run))(torch.randn(2, 16)).shape == (2, 3, 16, 16)


def test_same_seed_gives_the_same_losses(tmp_path):
    a, b = train(tmp_path / "a"), train(tmp_path / "b")
    assert a.last["loss_d"] == b.last["loss_d"] and a.last["loss_g"] == b.last["loss_g"]
    c = train(tmp_path / "c", seed=1)
    assert c.last["loss_g"] != a.last["loss_g"]


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    train(tmp_path / "straight", steps=4)
    first = train(tmp_path / "resumed", steps=2)
    assert first.step == 2
    second = train(tmp_path / "resumed", steps=4)
    assert second.resumed_from == 2 and second.step == 4
    assert_same_state(ckpt(tmp_path / "straight"), ckpt(tmp_path / "resumed"))
    # each stretch says where it ran: a run continued on another CPU repeats only stretch by stretch
    assert [m["from_step"] for m in second.machines] == [0, 2] and second.machines[0]["device"] == "cpu"
    assert [m["from_step"] for m in ckpt(tmp_path / "straight")["machines"]] == [0]


def test_changed_params_start_from_scratch(tmp_path):
    train(tmp_path, steps=2)
    result = train(tmp_path, steps=2, lr=0.001)
    assert result.resumed_from is None and result.step == 2


def test_an_edit_of_stylegan2_only_keeps_a_cips_checkpoint_resumable(tmp_path):
    """model.channel_base is a StyleGAN2 key: a CIPS run's identity (cips.resolve) leaves it out, so an
    interrupted CIPS run continues its checkpoint after the edit, while a CIPS key starts it again."""
    train(tmp_path, steps=2)
    path = make_project(tmp_path, steps=4)
    params = yaml.safe_load(path.read_text())
    params["model"]["channel_base"] *= 2
    path.write_text(yaml.safe_dump(params))
    resumed = train_from_params("toy-cips", path, tmp_path, track=False, progress=False)
    assert resumed.resumed_from == 2 and resumed.step == 4
    params["model"]["width"] *= 2
    path.write_text(yaml.safe_dump(params))
    layout(tmp_path).generator("toy-cips").unlink()  # finished at 4 steps: only a new identity trains again
    again = train_from_params("toy-cips", path, tmp_path, track=False, progress=False)
    assert again.resumed_from is None and again.step == 4


def test_the_initial_generator_of_the_fig4_control_is_trainings_step_0(tmp_path):
    """Fig. 4's control measures the encodings before training: `initial_generator` must rebuild exactly the
    weights a run starts from."""
    from cips.analysis.encodings import initial_generator

    rebuilt = {}
    for seed in (0, 3):
        t = trainer(tmp_path / str(seed), seed=seed)
        rebuilt[seed] = initial_generator(t.cfg).state_dict()
        for k, v in t.G_ema.state_dict().items():
            torch.testing.assert_close(rebuilt[seed][k], v, rtol=0, atol=0, msg=k)
    assert any(not torch.equal(v, rebuilt[3][k]) for k, v in rebuilt[0].items())  # the seed matters


def _stage(root: Path, *args: str) -> subprocess.Popen:
    # one thread: CPU float sums then do not depend on the thread count, so two processes compare bit for bit
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "stages.train", "toy-cips", "--no-track", *args], cwd=root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_then_rerun_ends_bit_for_bit_where_an_uninterrupted_run_ends(tmp_path):
    steps = 60
    make_project(tmp_path / "straight", steps=steps)
    straight = _stage(tmp_path / "straight")  # the reference runs beside the killed one
    root = tmp_path / "killed"
    make_project(root, steps=steps, checkpoint_every=1)
    proc = _stage(root)
    path = layout(root).checkpoint("toy-cips")
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert path.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = ckpt(root)["step"]  # the checkpoint left behind is complete and readable
    assert 1 <= killed_at < steps
    proc = _stage(root)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    info = json.loads(layout(root).train_info("toy-cips").read_text())
    assert info["step"] == steps and info["resumed_from"] >= killed_at
    _, err = straight.communicate(timeout=300)
    assert straight.returncode == 0, err[-2000:]
    a, b = ckpt(tmp_path / "straight"), ckpt(root)
    assert a["step"] == b["step"] == steps and a["seen_img"] == b["seen_img"]
    assert_same_state(a, b)
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])  # the noise RNG too


def test_sigterm_saves_a_checkpoint_before_exiting(tmp_path):
    make_project(tmp_path, steps=100000, checkpoint_every=100000)
    proc = _stage(tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _loop_started(proc):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "checkpoint saved" in err and ckpt(tmp_path)["step"] >= 1


def _loop_started(proc: subprocess.Popen) -> bool:
    """True once the stage has printed its progress bar (read without blocking)."""
    import fcntl

    fd = proc.stderr.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        chunk = proc.stderr.read()
    except (BlockingIOError, TypeError):
        chunk = None
    proc._seen = getattr(proc, "_seen", "") + (chunk or "")
    return "step/s" in proc._seen or "step]" in proc._seen


def test_bad_params_stop_before_any_work(tmp_path, capsys):
    from stages import train as stage

    params = make_project(tmp_path)
    data = yaml.safe_load(params.read_text())
    data["runs"]["bad"] = {"dataset": "toy", "train": {"patch": 6}}
    params.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"runs\.bad\.train\.patch"):
        train_from_params("toy-cips", params, tmp_path, track=False)
    data["runs"]["bad"] = {"dataset": "toy", "train": {"stepz": 3}}
    params.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"runs\.bad\.train\.stepz"):
        train_from_params("toy-cips", params, tmp_path, track=False)
    data["runs"]["bad"] = {"dataset": "toy", "model": {"arch": "stylegan2"}, "train": {"patch": 8}}
    params.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"runs\.bad\.train\.patch: patch training needs model\.arch cips"):
        train_from_params("bad", params, tmp_path, track=False)
    data["runs"]["bad"] = {"dataset": "toy", "train": {"batch": 5}}
    data["datasets"]["other"] = {"source": {"kind": "folder", "path": "x"}, "resolutions": [SIZE]}
    data["runs"]["missing"] = {"dataset": "other"}
    params.write_text(yaml.safe_dump(data))
    capsys.readouterr()
    assert stage.main(["missing", "--params", str(params), "--root", str(tmp_path), "--no-track"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(layout(tmp_path).lmdb("other")) in err and "prepare@other" in err
    assert stage.main(["nope", "--params", str(params), "--root", str(tmp_path), "--no-track"]) == 2
    assert "runs.nope" in capsys.readouterr().err
    missing = layout(tmp_path).run("missing")
    assert not missing.exists() or not any(missing.iterdir())


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = loop.d_logistic

    def poisoned(real_logits, fake_logits):
        calls["n"] += 1
        out = real(real_logits, fake_logits)
        return out * float("nan") if calls["n"] >= 3 else out

    monkeypatch.setattr(loop, "d_logistic", poisoned)
    with pytest.raises(loop.TrainingDiverged, match="loss_d not finite at step 2"):
        train(tmp_path, steps=5, checkpoint_every=2)
    c = ckpt(tmp_path)
    assert c["step"] == 2 and all(torch.isfinite(v).all() for v in c["g"].values())


def _assert_same_training(a: dict, b: dict, lr: float = 0.002) -> None:
    """Two checkpoints of one run trained with the batch split differently. Summation order differs, and Adam
    divides by sqrt(v), which magnifies those float differences where gradients are tiny: the weights must
    agree to far less than one Adam step everywhere, and most tensors to float precision."""
    for part in ("g", "g_ema", "d"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=0, atol=lr / 8, msg=f"{part}.{k}")
    close = sum(torch.allclose(a["g_ema"][k], b["g_ema"][k], rtol=1e-4, atol=1e-5) for k in a["g_ema"])
    assert close >= 0.75 * len(a["g_ema"]), f"{close} of {len(a['g_ema'])} EMA tensors within 1e-5"


@pytest.mark.slow
def test_train_nproc_starts_two_gloo_processes_that_match_one_process(tmp_path):
    # The stage itself starts the processes (train.nproc), per-pixel noise on: it is shared, not per rank.
    single = train(tmp_path / "single", "toy-cips", steps=8, batch=8)
    assert single.step == 8
    root = tmp_path / "ddp"
    make_project(root, steps=8, batch=8, nproc=2, batch_gpu=2)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)
    proc = subprocess.run([sys.executable, "-m", "stages.train", "toy-cips", "--no-track"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(layout(root).train_info("toy-cips").read_text())
    assert info["step"] == 8 and info["world_size"] == 2 and info["batch_gpu"] == 2
    assert info["max_rank_divergence"] == 0.0  # both ranks hold identical weights
    _assert_same_training(ckpt(tmp_path / "single"), ckpt(root))


def test_accumulated_passes_train_as_one_pass(tmp_path):
    one = train(tmp_path / "one", "toy-cips", steps=8, batch=8)
    passes = train(tmp_path / "passes", "toy-cips", steps=8, batch=8, batch_gpu=2)
    assert one.batch_gpu == 8 and passes.batch_gpu == 2
    _assert_same_training(ckpt(tmp_path / "one"), ckpt(tmp_path / "passes"))


def test_recomputed_pixel_chunks_train_as_kept_activations(tmp_path):
    kept = train(tmp_path / "kept", "toy-cips", steps=8, batch=8)
    recomputed = train(tmp_path / "recomputed", "toy-cips", steps=8, batch=8, checkpoint_pixels=64)
    assert kept.step == recomputed.step == 8
    _assert_same_training(ckpt(tmp_path / "kept"), ckpt(tmp_path / "recomputed"))
    t = trainer(tmp_path / "count", "toy-cips", checkpoint_pixels=64)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda x: saved.append(x.numel()) or x, lambda x: x):
        t.G(torch.randn(2, t.cfg.model.style_dim)).sum().backward()
    assert max(saved) < 2 * 64 * t.cfg.model.width  # no tensor of every pixel is kept, only chunk inputs


def test_official_embedding_sampling_reads_patches_through_grid_sample(tmp_path, monkeypatch):
    from cips.models import cips as cips_model

    calls = []
    real = cips_model.CoordinateEmbedding.sample_official
    monkeypatch.setattr(cips_model.CoordinateEmbedding, "sample_official",
                        lambda self, points: calls.append(points.shape) or real(self, points))
    runs = {"toy-patch": {"dataset": "toy", "train": {"patch": 8}}}
    exact = loop.Trainer(load_params(make_project(tmp_path / "exact", runs)).run("toy-patch"),
                         layout(tmp_path / "exact").lmdb("toy"), tmp_path / "exact" / "out", "test", track=False)
    exact.train_step()
    assert calls == []  # ours: the stored vectors at the patch's nodes
    runs["toy-patch"]["model"] = {"embedding_sampling": "official"}
    official = loop.Trainer(load_params(make_project(tmp_path / "official", runs)).run("toy-patch"),
                            layout(tmp_path / "official").lmdb("toy"), tmp_path / "official" / "out", "test",
                            track=False)
    official.train_step()
    assert calls and all(shape[1] == 8 * 8 for shape in calls)  # the official code: grid_sample for a patch


# the two ways R1 runs, each where it matters: fused into a patch run's D pass, and as StyleGAN2's own pass
GRADIENT_RUNS = {"toy-patch": "fused", "toy-stylegan2": "separate"}


def _recorded_grads(root: Path, nproc: int, **train) -> dict[str, list[tuple[str, dict[str, torch.Tensor]]]]:
    """Gradients each optimizer step applied in two steps of each of GRADIENT_RUNS, with 1 or `nproc` processes
    (one launch for all of them)."""
    runs = {name: {**BASE["runs"][name], "train": {**BASE["runs"][name].get("train", {}), "r1_step": r1_step}}
            for name, r1_step in GRADIENT_RUNS.items()}
    make_project(root, runs, steps=2, **train)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    launch = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                  f"--nproc_per_node={nproc}"]
    cmd = [*launch, str(REPO / "tests/_record_grads.py"), ",".join(runs), str(root / "grads.pt"), "2"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(root / "grads.pt")


@pytest.mark.slow
def test_processes_and_passes_apply_the_gradients_of_one_pass(tmp_path):
    # Adam is invariant to the gradients' scale, so weights cannot show whether the all-reduce averages;
    # the gradients themselves (of D with R1 at step 0 and without at step 1, and of G) must agree, for
    # one pass of 8, for 2 processes x 2 passes of 2, with R1 on the D pass and as its own pass.
    ones = _recorded_grads(tmp_path / "one", 1, batch=8)
    splits = _recorded_grads(tmp_path / "split", 2, batch=8, batch_gpu=2)
    assert list(ones) == list(splits) == list(GRADIENT_RUNS)
    for run, r1_step in GRADIENT_RUNS.items():
        one, split = ones[run], splits[run]
        assert [name for name, _ in one] == [name for name, _ in split] and {"G", "D"} <= {name for name, _ in one}
        assert len(one) >= (5 if r1_step == "separate" else 4)
        for i, ((name, a), (_, b)) in enumerate(zip(one, split, strict=True)):
            assert a.keys() == b.keys() and a
            for k in a:
                torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6,
                                           msg=f"{run}, optimizer step {i} ({name}): {k}")


def test_mlflow_run_holds_params_metrics_tags_and_samples(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    first = train(tmp_path / "p", track=True, steps=2)
    second = train(tmp_path / "p", track=True, steps=4)
    assert first.mlflow_run_id and second.mlflow_run_id == first.mlflow_run_id  # resume continues the run
    c = MlflowClient(uri)
    run = c.get_run(first.mlflow_run_id)
    assert run.info.run_name == "toy-cips" and run.info.status == "FINISHED"
    assert c.get_experiment(run.info.experiment_id).name == "cips-test-toy"
    p = run.data.params
    assert p["model.embeddings"] == "True" and p["train.batch"] == "4" and p["model.discriminator.mbstd_group"] == "2"
    tags = run.data.tags
    assert tags["DVC_STAGE"] == "train@toy-cips" and tags["DVC_EXP_NAME"] == "exp-test" and tags["cips.scale"] == "test"
    history = c.get_metric_history(run.info.run_id, "loss_d")
    assert [m.step for m in history] == [1, 2, 3, 4]
    assert {"loss_g", "img_per_s", "lr_g", "lr_d", "r1"} <= set(run.data.metrics)
    monkeypatch.setenv("DVC_EXP_NAME", "another-exp")  # an experiment continuing this checkpoint: a new run
    third = train(tmp_path / "p", track=True, steps=5)
    assert third.resumed_from == 4 and third.mlflow_run_id != first.mlflow_run_id
    names = [a.path for a in c.list_artifacts(run.info.run_id, "samples")]
    assert "samples/step_0000002.png" in names and "samples/step_0000004.png" in names


def test_bf16_autocast_trains_with_finite_losses(tmp_path):
    result = train(tmp_path, steps=2, amp="bf16")
    assert result.step == 2 and all(math.isfinite(v) for v in result.last.values())


def _step_dtypes(t: loop.Trainer) -> tuple[dict[str, set], dict[str, float]]:
    """Output dtypes of every module of G and of D during one training step, and the step's losses."""
    seen: dict[str, set] = {"G": set(), "D": set()}
    handles = []
    for name, net in (("G", t.G), ("D", t.D)):
        for m in net.modules():
            handles.append(m.register_forward_hook(
                lambda _m, _a, out, name=name: seen[name].add(out.dtype) if torch.is_tensor(out) else None))
    try:
        losses = t.train_step()
    finally:
        for h in handles:
            h.remove()
    return seen, losses


def test_bf16_autocast_runs_generator_and_discriminator_in_bfloat16(tmp_path):
    fp32, fp32_losses = _step_dtypes(trainer(tmp_path / "fp32", steps=1))
    bf16, bf16_losses = _step_dtypes(trainer(tmp_path / "bf16", steps=1, amp="bf16"))
    assert torch.bfloat16 not in fp32["G"] | fp32["D"]
    assert torch.bfloat16 in bf16["G"] and torch.bfloat16 in bf16["D"]
    assert all(math.isfinite(v) for v in bf16_losses.values())
    assert bf16_losses["loss_d"] != fp32_losses["loss_d"] and bf16_losses["loss_g"] != fp32_losses["loss_g"]
