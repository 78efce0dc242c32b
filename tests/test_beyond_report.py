"""The per-pixel figures end to end: which runs they show, the `beyond` stage, the report's "Beyond the tables"
section, MLflow artifacts, and the `cips` commands on any checkpoint."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from fixtures.toy import blob_images, write_lmdb
from test_beyond_neighbours import PixelNet  # tests/ is on sys.path (pytest's rootdir import)
from typer.testing import CliRunner

from cips.beyond.figures import TITLES, load, meta_of
from cips.beyond.subjects import choose
from cips.config import ModelConfig, to_dict
from cips.layout import Layout
from cips.metrics.features import open_images
from cips.metrics.reference import compute_reference, save_bundle
from cips.models import build_generator
from cips.report.figures import render_figures
from cips.report.inputs import load_inputs
from cips.report.page import build_report
from cips.scale import load_params, project_layout

REPO = Path(__file__).resolve().parents[1]


def write_checkpoint(path: Path, cfg: ModelConfig, step: int = 3, run_id: str | None = None) -> Path:
    torch.manual_seed(step)
    g = build_generator(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": "cips-repro/1", "model": to_dict(cfg), "g_ema": g.state_dict(), "step": step,
                "mlflow_run_id": run_id}, path)
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test scale's params.yaml, random generators (generator.pt, what the stage reads) for its full-image
    and patch runs, a training LMDB and its FID reference (features: the pixels, so no Inception pass)."""
    import cips.metrics.features

    root = tmp_path
    shutil.copy(REPO / "configs/test.yaml", root / "params.yaml")
    params = load_params(root / "params.yaml")
    layout = Layout(root, params.scale)
    for run in ("fashion-cips", "fashion-patch-half", "fashion-stylegan2"):
        write_checkpoint(layout.generator(run), params.run(run).model)
    lmdb = write_lmdb(layout.lmdb("fashion", 16), blob_images(30, 16, seed=0))
    ref = compute_reference("fashion", open_images(lmdb), [PixelNet()], n_real=16, n_floor=8, seed=0,
                            progress=False)
    save_bundle([ref], layout.reference_bundle("fashion"))
    monkeypatch.setattr(cips.metrics.features, "load_inception", lambda *a, **k: PixelNet())
    return root


def test_subjects_at_every_scale():
    demo = choose(load_params(REPO / "configs/demo.yaml"))
    assert (demo.dataset, demo.main, demo.panorama) == ("fashion", "fashion-cips", None)
    assert demo.patches == {"fashion": [("full", "fashion-cips"), ("half", "fashion-patch-half"),
                                        ("quarter", "fashion-patch-quarter")]}
    paper = choose(load_params(REPO / "configs/paper.yaml"))
    assert (paper.main, paper.panorama) == ("ffhq-cips", "landscapes-panorama")
    assert set(paper.patches) == {"ffhq", "churches"}


def test_stage_writes_every_figure_and_the_report_shows_them(project: Path, monkeypatch: pytest.MonkeyPatch):
    from stages import beyond as stage

    monkeypatch.chdir(project)
    assert stage.main(["--no-track"]) == 0
    layout = project_layout(project)
    d = load(layout.report_data("beyond.npz"))
    meta = meta_of(d, "meta")
    assert meta["scale"] == "test" and meta["notes"] == {}
    for fig in ("fig8", "fig9", "fig10", "fig11", "fig15", "fig18", "fig19"):
        m = meta_of(d, fig)
        assert m, fig
        if fig != "fig15":
            assert m["run"] == "fashion-cips" and m["step"] == 3
    assert meta_of(d, "fig11")["kind"] == "wide" and "no cylindrical run" in meta_of(d, "fig11")["note"]
    assert d["fig15/block0"].shape == (2, 8, 16, 16, 3)  # full and half, eight seeds
    assert meta_of(d, "fig18")["source"].startswith("the 24 of 30 training images")

    page = build_report(load_inputs(project / "params.yaml", project)).read_text()
    beyond = page[page.index("## Beyond the tables"):]
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", beyond)
    names = {Path(link).stem for link in links}
    assert names == {"fig8_foveated", "fig9_superres", "fig10_interpolation", "fig11_panorama",
                     "fig15_patches_fashion", "fig18_neighbours", "fig19_mixing"}
    for link in links:
        for ext in ("png", "pdf"):
            assert (layout.reports / link).with_suffix(f".{ext}").stat().st_size > 1000
    assert "TEST scale" in (layout.reports / "README.md").read_text()
    head = page[:page.index("## Beyond the tables")]
    assert "fig8_foveated" not in head  # not listed twice


def test_missing_runs_are_noted_not_fatal(project: Path, monkeypatch: pytest.MonkeyPatch):
    from stages import beyond as stage

    monkeypatch.chdir(project)
    layout = project_layout(project)
    layout.generator("fashion-patch-half").unlink()
    # the features are a machine-local cache (not in dvc.lock): the stage computes them where absent, here from
    # an LMDB too small for the protocol, which it says
    layout.reference_bundle("fashion").unlink()
    assert stage.main(["--no-track"]) == 0
    d = load(layout.report_data("beyond.npz"))
    notes = meta_of(d, "meta")["notes"]
    assert set(notes) == {"fig15", "fig18"} and "30 images, but the protocol needs 32" in notes["fig18"], notes
    page = build_report(load_inputs(project / "params.yaml", project)).read_text()
    assert f"{TITLES['fig18_neighbours']}: not drawn at this scale" in page

    layout.generator("fashion-cips").unlink()
    assert stage.main(["--no-track"]) == 0
    d = load(layout.report_data("beyond.npz"))
    assert "run fashion-cips has no generator" in meta_of(d, "meta")["notes"]["fig8"]
    assert not any(k.startswith(("fig8/", "fig11/")) for k in d)
    made = render_figures(load_inputs(project / "params.yaml", project))
    assert not any(n.startswith("fig8_") for n in made)


def test_figures_become_artifacts_of_their_training_run(project: Path, monkeypatch: pytest.MonkeyPatch):
    from cips import tracking
    from cips.beyond.stage import beyond_from_params

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'm.db'}")
    params = load_params(project / "params.yaml")
    run = tracking.TrainingRun(params.run("fashion-cips"), "test", root=project, log_system_metrics=False)
    run.finish()
    write_checkpoint(Layout(project, params.scale).generator("fashion-cips"), params.run("fashion-cips").model,
                     run_id=run.run_id)
    beyond_from_params(project / "params.yaml", project, track=True)
    c = tracking.client(project)
    logged = {a.path for a in c.list_artifacts(run.run_id, "beyond")}
    assert {"beyond/fig8_foveated.png", "beyond/fig9_superres.png", "beyond/fig15_patches_fashion.png",
            "beyond/fig18_neighbours.png"} <= logged


def test_commands_on_any_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import cips.metrics.features
    from cips.cli import app

    monkeypatch.setattr(cips.metrics.features, "load_inception", lambda *a, **k: PixelNet())
    small = dict(size=16, width=16, depth=4, style_dim=16, n_mlp=2)
    ckpt = write_checkpoint(tmp_path / "g.pt", ModelConfig(**small))
    cyl = write_checkpoint(tmp_path / "cyl.pt", ModelConfig(**small, coords="cylindrical", panorama_width=32))
    sg2 = write_checkpoint(tmp_path / "sg2.pt", ModelConfig(arch="stylegan2", size=16, style_dim=16, n_mlp=2,
                                                            channel_base=256, channel_max=16))
    lmdb = write_lmdb(tmp_path / "lmdb", blob_images(12, 16, seed=0))
    runner = CliRunner()
    calls = {
        "foveate": ["--fractions", "0.1,1", "--repeats", "1"], "superres": ["--factors", "1,2"],
        "interpolate": ["--seeds", "0,1", "--steps", "3", "--slerp"], "mix": ["--sources", "0", "--with", "1"],
        "neighbours": ["--real", str(lmdb), "--limit", "8", "--seeds", "0-1", "--k", "2"],
    }
    for command, extra in calls.items():
        out = tmp_path / f"{command}.png"
        result = runner.invoke(app, [command, str(ckpt), "--out", str(out), *extra])
        assert result.exit_code == 0, (command, result.output)
        assert out.read_bytes()[:4] == b"\x89PNG" and json.loads(result.stdout)["run"] == str(ckpt)
    result = runner.invoke(app, ["panorama", str(cyl), "--out", str(tmp_path / "p.pdf")])
    assert result.exit_code == 0, result.output
    seams = json.loads(result.stdout)["seams"]
    assert len(seams) == 3 and all(0.3 < s["ratio"] < 3 for s in seams)
    assert (tmp_path / "p.pdf").read_bytes()[:4] == b"%PDF"
    result = runner.invoke(app, ["side-by-side", str(ckpt), str(cyl), "--labels", "a,b", "--seeds", "0-2",
                                 "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    # StyleGAN2 interpolates and mixes like any style generator, but renders no other coordinates
    assert runner.invoke(app, ["interpolate", str(sg2), "--out", str(tmp_path / "i.png")]).exit_code == 0
    bad = runner.invoke(app, ["foveate", str(sg2), "--out", str(tmp_path / "f.png")])
    assert bad.exit_code == 2 and "needs a CIPS generator" in bad.output
    bad = runner.invoke(app, ["superres", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "f.png")])
    assert bad.exit_code == 2 and "nope.pt: no such checkpoint" in bad.output
    bad = runner.invoke(app, ["superres", str(ckpt), "--out", str(tmp_path / "f.jpg")])
    assert bad.exit_code != 0 and "must end in .png or .pdf" in bad.output
    assert not list(tmp_path.glob(".*.tmp"))


def test_neighbours_command_reads_the_dataset_reference(project: Path):
    from cips.cli import app

    out = project / "nn.png"
    generator = project_layout(project).generator("fashion-cips")
    result = CliRunner().invoke(app, ["neighbours", str(generator), "--dataset",
                                      "fashion", "--root", str(project), "--k", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert m["k"] == 3 and m["source"].startswith("the 24 of 30") and out.is_file()
    result = CliRunner().invoke(app, ["neighbours", str(generator), "--out", str(out)])
    assert result.exit_code != 0 and "--dataset NAME or --real PATH" in result.output
