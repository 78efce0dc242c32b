"""cips-report tables: published beside ours, missing runs, protocol flags, scale refusal, formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cips.config import ConfigError
from cips.layout import Layout
from cips.metrics import inception, quality
from cips.report.cli import app
from cips.report.inputs import ScaleMismatch, load_inputs
from cips.report.render import to_csv, to_markdown, to_rich, to_tex
from cips.report.tables import MISSING, build_tables
from cips.scale import project_layout

REPO = Path(__file__).resolve().parents[1]
INCEPTION = {
    "feature_network": inception.NETWORK,
    "feature_layer": inception.FEATURE_LAYER,
    "feature_dim": 2048,
    "feature_weights": {"network": inception.NETWORK, "source": "test", "sha256": inception.FID_HELPER_SHA256},
    "resize": inception.RESIZE,
    "normalisation": inception.NORMALISATION,
}
VGG16 = {
    "feature_network": "vgg16",
    "feature_layer": "fc2_relu",
    "feature_dim": 4096,
    "feature_weights": {"network": "vgg16", "source": "test", "sha256": "ab" * 32},
    "resize": "tf1-bilinear(align_corners=False) to 224x224",
    "normalisation": "ImageNet mean/std",
}


def fake_metrics(run: str, dataset: str, fid: float, *, scale: str = "demo", n: int = 500, resolution: int = 32,
                 prc_network: dict = INCEPTION, step: int = 600) -> dict:
    """A metrics.json as stages/evaluate.py writes it (cips.metrics.evaluate.METRICS_SCHEMA)."""
    common = dict(dataset=dataset, resolution=resolution, n_generated=n, n_real=n, seeds={"first": 0},
                  generated="generator (EMA)", real="first images")
    note = "" if prc_network is VGG16 else "VGG16 weights not present: precision/recall on Inception pool features"
    return {
        "format": "cips-repro/metrics/1",
        "run": run,
        "dataset": dataset,
        "checkpoint": {"path": str(Layout("", scale).generator(run)), "step": step},
        "fid": fid, "kid": fid / 1000, "kid_std": 0.001, "precision": 0.5, "recall": 0.25,
        "floor": {"fid": 3.5, "kid": 0.0001, "kid_std": 0.0001, "precision": 0.8, "recall": 0.79},
        "protocol": {
            "fid": quality.make_protocol("fid", network=INCEPTION, **common),
            "kid": quality.make_protocol("kid", network=INCEPTION, kid_subsets=50, kid_subset_size=100, **common),
            "prc": quality.make_protocol("prc", network=prc_network, prc_k=3, note=note, **common),
        },
        "reference": {"key": "k", "n_real": n, "n_floor": n, "file": None},
        "timing": {"seconds": 10.0, "generated_per_s": 50.0, "device": "cpu"},
        "scale": scale,
    }


def fake_train(run: str, dataset: str, scale: str = "demo", step: int = 600) -> dict:
    return {"run": run, "dataset": dataset, "scale": scale, "step": step, "steps": 600, "img_per_s": 120.0,
            "wall_time_s": 80.0, "params_g": 183_000, "params_d": 300_000, "batch": 16}


def write_run(root: Path, run: str, metrics: dict | None, train: dict | None = None, *,
              scale: str | None = None) -> None:
    """The outputs of `run` where scale `scale` (default: the project's, as its params.yaml says) keeps them."""
    d = (Layout(root, scale) if scale else project_layout(root)).run(run)
    d.mkdir(parents=True, exist_ok=True)
    if metrics is not None:
        (d / "metrics.json").write_text(json.dumps(metrics))
    if train is not None:
        (d / "train.json").write_text(json.dumps(train))


def make_project(root: Path) -> Path:
    """A temporary project: the repository's params.yaml and a few evaluated demo runs."""
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    write_run(root, "fashion-cips", fake_metrics("fashion-cips", "fashion", 41.25),
              fake_train("fashion-cips", "fashion"))
    write_run(root, "fashion-stylegan2", fake_metrics("fashion-stylegan2", "fashion", 37.5),
              fake_train("fashion-stylegan2", "fashion"))
    write_run(root, "fashion-base", fake_metrics("fashion-base", "fashion", 44.0))
    # an ablation evaluated on another N than the rest of Table 3: shown, but flagged
    write_run(root, "fashion-ne", fake_metrics("fashion-ne", "fashion", 60.0, n=400))
    write_run(root, "fashion-patch-half", fake_metrics("fashion-patch-half", "fashion", 55.125))
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def cell(table, row: str, column: str) -> str:
    frame = table.frame()
    key = frame.columns[0]
    return frame.loc[frame[key] == row, column].iloc[0]


def test_filled_cells_equal_inputs(project: Path) -> None:
    t1, t2, t3, t4, t5 = build_tables(load_inputs(project / "params.yaml", project))
    assert t1.values[("FFHQ", "cips")].value == 41.25
    assert cell(t1, "FFHQ", "CIPS (ours)").startswith("41.25")
    assert cell(t1, "FFHQ", "StyleGANv2 (ours)").startswith("37.50")
    assert cell(t1, "FFHQ", "CIPS (paper)") == "4.38"
    assert cell(t1, "FFHQ", "floor") == "3.50"
    assert "500 gen / 500 real, 32px, Inception" in cell(t1, "FFHQ", "protocol (ours)")
    assert cell(t3, "base", "FID (ours)").startswith("44.00")
    assert cell(t3, "Main", "FID (ours)").startswith("41.25")
    assert cell(t5, "FFHQ", "half (ours)").startswith("55.12")
    assert "(K=16)" in cell(t5, "FFHQ", "half (ours)")
    assert t2.values[("CIPS", "precision")].value == 0.5
    assert cell(t2, "CIPS", "precision (paper)") == "0.613"


def test_missing_runs_say_not_run(project: Path) -> None:
    t1, _, t3, _, t5 = build_tables(load_inputs(project / "params.yaml", project))
    assert cell(t1, "Satellite-Landscapes", "CIPS (ours)") == MISSING  # photos-cips has no metrics.json
    assert cell(t1, "LSUN Churches", "CIPS (ours)") == MISSING  # no run at this scale at all
    assert cell(t3, "Sine", "FID (ours)") == MISSING
    assert cell(t5, "FFHQ", "quarter (ours)") == MISSING


def test_mismatched_protocol_is_flagged(project: Path) -> None:
    _, t2, t3, _, _ = build_tables(load_inputs(project / "params.yaml", project))
    ne = cell(t3, "No embed (NE)", "FID (ours)")
    assert ne.startswith("60.00 †")
    assert any("n_generated: 400 vs 500" in f and "fashion-ne" in f for f in t3.footnotes)
    assert "†" not in cell(t3, "base", "FID (ours)")  # same protocol as the rest; scale stated in the heading
    # precision/recall on Inception features while the paper's are on VGG16
    assert "†" in cell(t2, "CIPS", "precision (ours)")
    assert any("feature_network" in f and "vgg16" in f for f in t2.footnotes)


def test_vgg16_precision_recall_not_flagged(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    for run in ("fashion-cips", "fashion-stylegan2"):
        write_run(root, run, fake_metrics(run, "fashion", 40.0, prc_network=VGG16))
    t2 = build_tables(load_inputs(root / "params.yaml", root), (2,))[0]
    assert "†" not in cell(t2, "CIPS", "precision (ours)")


def test_demo_heading_note_from_data(project: Path) -> None:
    for table in build_tables(load_inputs(project / "params.yaml", project)):
        assert table.notes[0] == ("DEMO scale (32x32, 600 steps, FID on N=400-500 generated vs 400-500 real): "
                                  "not comparable with the paper's numbers")


def test_paper_scale_table4_complete_no_demo_note(tmp_path: Path) -> None:
    shutil.copy(REPO / "configs" / "paper.yaml", tmp_path / "params.yaml")
    t1, t4 = build_tables(load_inputs(tmp_path / "params.yaml", tmp_path), (1, 4))
    assert not any("DEMO" in n for n in t1.notes)
    assert "floor" not in t1.columns
    assert set(t1.frame()["CIPS (ours)"]) == {MISSING}
    assert len(t4.rows) == 4 and all(r["ours at paper configuration (M)"] != MISSING for r in t4.rows)
    assert t4.values[("CIPS-base", "params_m")].value == pytest.approx(43.8, abs=0.1)


def test_mixed_scale_refused(project: Path) -> None:
    write_run(project, "fashion-sine", fake_metrics("fashion-sine", "fashion", 50.0, scale="paper"))
    with pytest.raises(ScaleMismatch, match="fashion-sine"):
        load_inputs(project / "params.yaml", project)
    result = CliRunner().invoke(app, ["tables", "--root", str(project), "--params", str(project / "params.yaml")])
    assert result.exit_code == 2
    message = result.output.strip()
    assert message.startswith("error:") and "fashion-sine" in message and "\n" not in message


def test_formats_render(project: Path) -> None:
    tables = build_tables(load_inputs(project / "params.yaml", project))
    for table in tables:
        md = to_markdown(table)
        assert f"Table {table.number}" in md and "| " in md
        frame = pd.read_csv(pd.io.common.StringIO(to_csv(table)), comment="#")
        assert list(frame.columns) == table.columns and len(frame) == len(table.rows)
        tex = to_tex(table)
        assert r"\begin{tabular}" in tex and r"\end{table}" in tex
        assert to_rich(table).row_count == len(table.rows)
    assert r"$^{\dagger1}$" in to_tex(tables[2])


@pytest.mark.parametrize("fmt", ["md", "csv", "tex", "rich"])
def test_cli_tables_formats_and_files(project: Path, fmt: str) -> None:
    args = ["tables", "--table", "1", "--format", fmt, "--root", str(project), "--params", str(project / "params.yaml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "41.25" in result.output
    for ext in ("md", "csv", "tex"):
        assert (project_layout(project).tables / f"table1.{ext}").is_file()


def test_cli_runs_and_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runner = CliRunner()
    missing = runner.invoke(app, ["runs", "--root", str(tmp_path)])
    assert missing.exit_code == 2 and "no MLflow database" in missing.output
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("cips-demo-fashion")
    for name, embeddings, fid in (("fashion-base", True, 44.0), ("fashion-ne", False, 60.0)):
        with mlflow.start_run(run_name=name, tags={"cips.run": name}):
            mlflow.log_params({"model.arch": "cips", "model.embeddings": embeddings, "model.fourier": True,
                               "model.skips": False, "train.steps": 600})
            mlflow.log_metrics({"fid": fid, "wall_time_s": 75.0})
    listed = runner.invoke(app, ["runs", "--root", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "fashion-base" in listed.output and "cips fourier embeddings" in listed.output
    assert "60.00" in listed.output and "0:01:15" in listed.output and "fashion" in listed.output
    diff = runner.invoke(app, ["compare", "fashion-base", "fashion-ne", "--root", str(tmp_path)])
    assert diff.exit_code == 0, diff.output
    assert "model.embeddings" in diff.output and "16.0000" in diff.output
    assert "model.fourier" not in diff.output  # equal parameters are left out
    unknown = runner.invoke(app, ["compare", "fashion-base", "nope", "--root", str(tmp_path)])
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_paper_scale_flags_only_real_differences(tmp_path: Path) -> None:
    shutil.copy(REPO / "configs" / "paper.yaml", tmp_path / "params.yaml")
    write_run(tmp_path, "ffhq-cips", fake_metrics("ffhq-cips", "ffhq", 4.5, scale="paper", n=50_000, resolution=256))
    write_run(tmp_path, "ffhq-stylegan2",
              fake_metrics("ffhq-stylegan2", "ffhq", 3.9, scale="paper", n=10_000, resolution=256))
    t1 = build_tables(load_inputs(tmp_path / "params.yaml", tmp_path), (1,))[0]
    assert cell(t1, "FFHQ", "CIPS (ours)") == "4.50"  # the paper's protocol: no dagger
    assert cell(t1, "FFHQ", "StyleGANv2 (ours)").startswith("3.90 †")
    assert any("n_generated: 10000 vs 50000" in f for f in t1.footnotes)


def test_a_run_with_seeds_shows_mean_interval_and_n(tmp_path: Path) -> None:
    """Three seeds of fashion-cips at the small scale: the cell is their mean ± the 95% t half-width, with n;
    a seed not yet evaluated is left out of n; a run with one evaluated seed shows the number alone."""
    from cips.scale import use_scale

    (tmp_path / "configs").mkdir()
    shutil.copy(REPO / "configs" / "small.yaml", tmp_path / "configs" / "small.yaml")
    use_scale("small", tmp_path)
    for seed, fid in zip((0, 1, 2), (80.0, 90.0, 100.0), strict=True):
        write_run(tmp_path, f"fashion-cips-s{seed}", fake_metrics(f"fashion-cips-s{seed}", "fashion", fid,
                                                                  scale="small", n=2000))
    write_run(tmp_path, "fashion-stylegan2-s0", fake_metrics("fashion-stylegan2-s0", "fashion", 95.0, scale="small",
                                                             n=2000))
    t1, _, t3, _, _ = build_tables(load_inputs(tmp_path / "params.yaml", tmp_path))
    FFHQ = "FFHQ (80 kimg)"  # noqa: N806 - the small scale trains Tables 1 and 3 at 80k and at 160k images
    ours = t1.values[(FFHQ, "cips")]
    assert ours.values == [80.0, 90.0, 100.0] and ours.value == 90.0 and ours.n == 3
    # t(0.975, 2) = 4.3027, sd 10, n 3: half-width 4.3027 * 10 / sqrt(3) = 24.84
    assert cell(t1, FFHQ, "CIPS (ours)").startswith("90.00 ± 24.84 (n=3)")
    assert cell(t3, "Main (80 kimg)", "FID (ours)").startswith("90.00 ± 24.84 (n=3)")
    assert cell(t1, FFHQ, "StyleGANv2 (ours)").startswith("95.00") and "n=" not in cell(t1, FFHQ,
                                                                                            "StyleGANv2 (ours)")
    assert any("95% Student-t interval" in note for note in t1.notes)


def test_a_lab_with_ffhq_only_gets_a_graph_without_the_other_datasets_and_absent_cells(tmp_path: Path) -> None:
    from cips.report.tables import ABSENT
    from cips.scale import load_params, use_scale

    (tmp_path / "configs").mkdir()
    shutil.copy(REPO / "configs" / "paper.yaml", tmp_path / "configs" / "paper.yaml")
    params = load_params(use_scale("paper", tmp_path, datasets=["ffhq"]))
    assert list(params.dvc["datasets"]) == ["paper-ffhq"]  # no prepare@ for a source this lab lacks
    assert {item["dataset"] for item in params.dvc["runs"].values()} == {"ffhq"}
    assert params.analysis.spectra is not None  # it reads FFHQ runs: kept
    t1, t5 = build_tables(load_inputs(tmp_path / "params.yaml", tmp_path), (1, 5))
    assert cell(t1, "LSUN Churches", "CIPS (ours)") == ABSENT.format(dataset="churches")
    assert cell(t1, "FFHQ", "CIPS (ours)") == MISSING  # present, not trained yet
    assert cell(t5, "LSUN Churches", "half (ours)") == ABSENT.format(dataset="churches")
    params = load_params(use_scale("paper", tmp_path, datasets=["churches"]))
    assert params.analysis.spectra is None and params.analysis.encodings is None  # they read FFHQ runs
    with pytest.raises(ConfigError, match="--datasets imagenet: not in datasets"):
        use_scale("paper", tmp_path, datasets=["imagenet"])


def test_cells_trained_at_two_budgets_get_a_row_each_labelled_with_its_budget(tmp_path: Path) -> None:
    import yaml

    project = make_project(tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.pop("dvc", None)
    params["runs"]["fashion-base-long"] = {**params["runs"]["fashion-base"], "train": {"steps": 1400}}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_run(project, "fashion-base-long", fake_metrics("fashion-base-long", "fashion", 30.5))
    _, _, t3, _, _ = build_tables(load_inputs(project / "params.yaml", project))
    steps, batch = params["train"]["steps"], params["train"]["batch"]
    short, long = f"base ({steps * batch / 1000:g} kimg)", f"base ({1400 * batch / 1000:g} kimg)"
    assert cell(t3, short, "FID (ours)").startswith("44.00") and cell(t3, long, "FID (ours)").startswith("30.50")
    assert t3.values[(long, "fid")].value == 30.5 and t3.values[(short, "fid")].value == 44.0


def test_dvcs_learning_curve_plot_reads_every_committed_curve():
    """reports/small/data/learning_curves.csv, the data of dvc.yaml's `learning_curves` plot, holds every point of
    every committed small-scale model's curve (train.json), and the plot's template draws one line per model."""
    import csv

    import yaml

    from cips.report.curves import curve_rows
    from cips.report.inputs import load_inputs

    inputs = load_inputs(REPO / "params.yaml", REPO, "small")
    with open(REPO / "reports/small/data/learning_curves.csv") as f:
        committed = list(csv.DictReader(f))
    assert committed == [{k: str(v) for k, v in row.items()} for row in curve_rows(inputs)]
    curves = {name for name, out in inputs.runs.items() if (out.train or {}).get("curve")}
    assert curves and {row["model"] for row in committed} == curves
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    spec = next(p["learning_curves"] for p in plots if isinstance(p, dict) and "learning_curves" in p)
    assert spec["y"] == {"${dvc.reports}/data/learning_curves.csv": "fid"} and spec["x"] == "kimg"
    template = json.loads((REPO / spec["template"]).read_text())
    assert template["encoding"]["detail"]["field"] == "model" and template["encoding"]["strokeDash"]["field"] == "rev"
