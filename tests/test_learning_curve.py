"""Learning curves: train.eval_every scores the EMA generator during training and logs it as step metrics."""

import json
import math

import numpy as np
from test_training import assert_same_state, ckpt, layout, train

from cips.scale import project_layout
from cips.training.curve import LearningCurve


def test_periodic_evaluation_logs_step_metrics_and_survives_resume(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # batch 4, every 0.008 kimg = every 2 steps; 2 steps, then a resumed run to 5 (its last step measured too)
    first = train(tmp_path / "p", track=True, steps=2, eval_every=0.008, eval_n=8)
    assert [p["step"] for p in first.curve] == [2]
    result = train(tmp_path / "p", track=True, steps=5, eval_every=0.008, eval_n=8)
    assert result.resumed_from == 2
    assert [p["step"] for p in result.curve] == [2, 4, 5]
    assert [p["kimg"] for p in result.curve] == [0.008, 0.016, 0.02]
    assert all(math.isfinite(p["fid"]) and math.isfinite(p["kid"]) for p in result.curve)
    info = json.loads(layout(tmp_path / "p").train_info("toy-cips").read_text())
    assert info["curve"] == result.curve and info["curve_seconds"] > 0
    history = MlflowClient(uri).get_metric_history(result.mlflow_run_id, "curve_fid")
    assert [m.step for m in history] == [2, 4, 5]
    assert [m.value for m in history] == [p["fid"] for p in result.curve]


def test_no_curve_unless_asked(tmp_path):
    assert train(tmp_path).curve == []


def test_the_curve_tells_a_generator_from_the_reals(tmp_path):
    """The curve scores with the FID Inception: real statistics from the reals, a toy generator far off."""
    from fixtures.toy import ToyGenerator, blob_images, write_lmdb

    lmdb = write_lmdb(tmp_path / "lmdb", blob_images(40, 32, seed=0))
    meter = LearningCurve(lmdb, n=40, batch=20)
    assert np.allclose(meter.real.mean(0), meter.real_stats["mu"])
    toy = meter.measure(ToyGenerator(size=32, style_dim=16))
    assert toy["fid"] > 10 and toy["kid"] > 0


def test_report_draws_the_learning_curves(tmp_path):
    from test_report_tables import fake_metrics, make_project, write_run

    from cips.report.figures import learning_curves, render_figures
    from cips.report.inputs import load_inputs

    make_project(tmp_path)
    for run, fids in (("fashion-cips", [300.0, 150.0, 90.0]), ("fashion-stylegan2", [320.0, 200.0, 110.0])):
        curve = [{"step": 100 * (i + 1), "kimg": 1.6 * (i + 1), "fid": f, "kid": f / 1000} for i, f in enumerate(fids)]
        write_run(tmp_path, run, fake_metrics(run, "fashion", fids[-1]),
                  {"run": run, "scale": "demo", "step": 300, "curve": curve})
    inputs = load_inputs(tmp_path / "params.yaml", tmp_path)
    # one panel per table the runs feed (fashion-cips: Tables 1, 3 and 5; StyleGAN2: Table 1), each with its runs
    axes = {ax.get_title(): [t.get_text() for t in ax.get_legend().get_texts()] for ax in learning_curves(inputs).axes}
    assert axes == {"Table 1 (fashion)": ["fashion-cips (cips)", "fashion-stylegan2 (stylegan2)"],
                    "Table 3 (fashion)": ["fashion-cips (main)"], "Table 5 (fashion)": ["fashion-cips (full)"]}
    made = render_figures(inputs)
    assert "learning_curves" in made
    assert (project_layout(tmp_path).figures / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    write_run(tmp_path, "fashion-cips", fake_metrics("fashion-cips", "fashion", 90.0), {"run": "x", "scale": "demo"})
    write_run(tmp_path, "fashion-stylegan2", fake_metrics("fashion-stylegan2", "fashion", 90.0),
              {"run": "y", "scale": "demo"})
    assert "learning_curves" not in render_figures(load_inputs(tmp_path / "params.yaml", tmp_path))


def test_a_model_at_two_budgets_keeps_its_colour_longest_solid(tmp_path):
    """fashion-cips and its twin at ten times the steps: one colour per role, the longer budget solid."""
    import yaml
    from matplotlib.colors import to_hex
    from test_report_tables import REPO, fake_metrics, write_run

    from cips.report.figures import learning_curves
    from cips.report.inputs import load_inputs

    params = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    params["runs"]["fashion-cips-long"] = {**params["runs"]["fashion-cips"],
                                           "train": {"steps": 10 * params["train"]["steps"]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for run, points in (("fashion-cips", 3), ("fashion-cips-long", 6), ("fashion-stylegan2", 3)):
        curve = [{"step": i + 1, "kimg": i + 1.0, "fid": 300.0 / (i + 1), "kid": 0.1} for i in range(points)]
        write_run(tmp_path, run, fake_metrics(run, "fashion", 30.0, scale="test"), {"run": run, "curve": curve},
                  scale="test")
    table1 = next(ax for ax in learning_curves(load_inputs(tmp_path / "params.yaml", tmp_path)).axes
                  if ax.get_title() == "Table 1 (fashion)")
    lines = {line.get_label(): line for line in table1.get_lines()}
    assert list(lines) == ["fashion-cips-long (cips)", "fashion-cips (cips)", "fashion-stylegan2 (stylegan2)"]
    long, short, sg2 = lines.values()
    assert to_hex(long.get_color()) == to_hex(short.get_color()) != to_hex(sg2.get_color())
    assert (long.get_linestyle(), short.get_linestyle(), sg2.get_linestyle()) == ("-", "--", "-")
    assert len(long.get_xdata()) == 6 and len(short.get_xdata()) == 3


def test_a_run_resumed_after_a_curve_point_continues_as_an_uninterrupted_one(tmp_path):
    # batch 4, a curve point every 2 steps: the straight run measures at 2 and 4; the resumed one stops at 3,
    # after its first point, and measures at 4 in a new process, before its last step trains
    train(tmp_path / "straight", steps=5, eval_every=0.008, eval_n=8)
    train(tmp_path / "resumed", steps=3, eval_every=0.008, eval_n=8)
    resumed = train(tmp_path / "resumed", steps=5, eval_every=0.008, eval_n=8)
    assert resumed.resumed_from == 3
    assert_same_state(ckpt(tmp_path / "straight"), ckpt(tmp_path / "resumed"))
