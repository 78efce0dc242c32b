"""cips-report figures and build: PNG + PDF per figure, skipped inputs, README.md linking the figures."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from test_report_tables import make_project  # tests/ is on sys.path (pytest's rootdir import)
from typer.testing import CliRunner

from cips.analysis.encodings import encodings_figure_data
from cips.analysis.spectrum import SpectrumAccumulator, SpectrumParams, save_spectra
from cips.config import ModelConfig
from cips.files import save_npz_atomic, write_png
from cips.models import build_generator
from cips.report.cli import app
from cips.report.figures import render_figures
from cips.report.inputs import load_inputs
from cips.scale import project_layout

FIG_NAMES = ("fig3", "fig4", "fig5", "fig6", "fig7_spectra", "fig7_profile")


def write_encodings(root: Path) -> None:
    """reports/data/encodings.npz from two tiny untrained CIPS generators (the real stage's function)."""
    small = dict(size=16, width=16, depth=4, style_dim=16, n_mlp=2, skips=False)
    torch.manual_seed(0)
    base = build_generator(ModelConfig(**small)).eval()
    ne = build_generator(ModelConfig(**small, embeddings=False)).eval()
    save_npz_atomic(project_layout(root).report_data("encodings.npz"), encodings_figure_data(base, ne))


def write_spectra(root: Path, seeds: int = 1) -> None:
    """reports/data/spectra.npz of random image sets (the real stage's functions); with `seeds` > 1 each
    generated set also gets that many per-seed profiles."""
    rng = np.random.default_rng(0)
    results, per_seed = {}, {}
    for i, name in enumerate(("real", "CIPS-base", "CIPS-NE", "StyleGAN2")):
        runs = []
        for _ in range(1 if name == "real" else seeds):
            acc = SpectrumAccumulator(SpectrumParams())
            images = rng.integers(0, 256 - 40 * i, size=(8, 3, 16, 16), dtype=np.uint8)
            acc.update(torch.from_numpy(images))
            runs.append(acc.result())
        results[name] = runs[0]
        if len(runs) > 1:
            per_seed[name] = runs
    save_spectra(project_layout(root).report_data("spectra.npz"), results, per_seed)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path)
    write_encodings(root)
    write_spectra(root)
    grid = np.random.default_rng(1).integers(0, 256, size=(67, 67, 3), dtype=np.uint8)
    write_png(grid, project_layout(root).eval_samples("fashion-cips"))
    return root


def test_figures_png_and_pdf(project: Path) -> None:
    made = render_figures(load_inputs(project / "params.yaml", project))
    assert set(FIG_NAMES) <= set(made) and "samples_fashion-cips" in made
    figures = project_layout(project).figures
    for name in made:
        for ext in ("png", "pdf"):
            path = figures / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
    assert (figures / "fig7_profile.png").read_bytes()[:4] == b"\x89PNG"
    assert (figures / "fig4.pdf").read_bytes()[:4] == b"%PDF"
    assert not list(figures.glob("*.tmp"))  # atomic writes leave nothing behind


def test_fig7_profile_draws_every_seed(tmp_path: Path) -> None:
    """Solid lines: real and each run's first seed; dashed: the other seeds that the Fig. 7 claim pools."""
    from cips.report.figures import fig7_profile, load_spectra_npz

    root = make_project(tmp_path)
    write_spectra(root, seeds=3)
    inputs = load_inputs(root / "params.yaml", root)
    ax = fig7_profile(inputs, load_spectra_npz(project_layout(root).report_data("spectra.npz"))).axes[0]
    styles = [line.get_linestyle() for line in ax.lines]
    assert styles.count("-") == 4 and styles.count("--") == 3 * 2


def test_missing_inputs_skip_figures(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_project(tmp_path)
    write_spectra(root)
    with caplog.at_level(logging.INFO, logger="cips.report"):
        made = render_figures(load_inputs(root / "params.yaml", root))
    assert made == ["fig7_spectra", "fig7_profile"]
    assert "fig4: skipped" in caplog.text and "encodings.npz" in caplog.text
    assert "samples_fashion-cips: skipped" in caplog.text


def test_build_writes_page_linking_figures(project: Path) -> None:
    result = CliRunner().invoke(app, ["build", "--root", str(project), "--params", str(project / "params.yaml")])
    assert result.exit_code == 0, result.output
    layout = project_layout(project)
    page = (layout.reports / "README.md").read_text()
    assert "DEMO scale (32x32" in page
    for n in range(1, 6):
        assert f"Table {n}:" in page
        for ext in ("md", "csv", "tex"):
            assert (layout.tables / f"table{n}.{ext}").is_file()
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", page)
    assert {f"figures/{n}.png" for n in FIG_NAMES} | {"figures/samples_fashion-cips.png"} <= set(links)
    for link in links:
        assert (layout.reports / link).is_file()
    assert "41.25" in page and "not run at this scale" in page


def test_build_from_root_with_defaults(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cips-report build` with no options, run from the project root (the DVC stage's command)."""
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["build"])
    assert result.exit_code == 0, result.output
    layout = project_layout(project)
    assert (layout.reports / "README.md").is_file()
    assert (layout.figures / "fig4.png").is_file()


def test_build_without_any_input(tmp_path: Path) -> None:
    root = tmp_path
    (root / "params.yaml").write_text((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    result = CliRunner().invoke(app, ["build", "--root", str(root), "--params", str(root / "params.yaml")])
    assert result.exit_code == 0, result.output
    page = (project_layout(root).reports / "README.md").read_text()
    assert "Not available yet" in page and "not run at this scale" in page
