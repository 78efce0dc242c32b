"""The committed parameter files: valid, consistent, and the scale switch."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cips.config import USER_SCALES, ConfigError
from cips.layout import Layout, scale_config
from cips.plan import SECTION, plan
from cips.scale import MARKER, load_params, parse_params, project_layout, use_scale, with_plan

ROOT = Path(__file__).resolve().parents[1]


def test_params_yaml_is_the_demo_scale():
    """params.yaml is what `cips scale demo` writes: configs/demo.yaml plus its generated dvc: section."""
    demo = ROOT / "configs/demo.yaml"
    assert (ROOT / "params.yaml").read_text() == with_plan(demo.read_text(), str(demo))
    assert load_params(ROOT / "params.yaml").scale == "demo"


@pytest.mark.parametrize("scale", USER_SCALES)
def test_scale_files_are_valid_and_complete(scale):
    params = load_params(scale_config(ROOT, scale))
    assert params.scale == scale
    for name, ds in params.datasets.items():
        assert ds.scale == scale, name
        assert ds.source.watch, f"datasets.{name}.source.watch: dvc.yaml needs it"
    cells = {}
    for name in params.runs:
        run = params.run(params.members_of(name)[0])  # a run with seeds: its first seed's model
        for table, cell in run.tables.items():
            budget = run.train.steps * run.train.batch  # a cell may be trained at several budgets, once each
            key = (table, cell, params.datasets[run.dataset].stands_for or run.dataset, budget)
            assert key not in cells, f"{name} and {cells.get(key)} feed the same cell {key}"
            cells[key] = name
    # every ablation of Table 3 and every patch size of Table 5 has a run at both scales
    assert {c for (t, c, _, _) in cells if t == "table3"} == {"base", "ne", "nofourier", "main", "residual", "sine"}
    assert {c for (t, c, _, _) in cells if t == "table5"} == {"full", "half", "quarter"}
    for role in ("base", "ne", "stylegan2", "main"):
        assert getattr(params.analysis.spectra, role) in params.runs
    assert params.analysis.encodings.base in params.runs


def test_a_misspelt_override_names_its_key():
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["model"]["embedings"] = False  # what `dvc exp run -S model.embedings=false` writes
    with pytest.raises(ConfigError, match=r"^params.yaml: model.embedings: unknown key"):
        parse_params(data)
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["runs"]["fashion-ne"]["model"]["skips"] = "no"
    with pytest.raises(ConfigError, match=r"runs.fashion-ne.model.skips: expected true or false"):
        parse_params(data)


def scale_project(root: Path) -> Path:
    """A project folder holding the repository's configs/<scale>.yaml files."""
    (root / "configs").mkdir(parents=True)
    for scale in USER_SCALES:
        scale_config(root, scale).write_text(scale_config(ROOT, scale).read_text())
    return root


def test_scale_switch_copies_the_scale_file(tmp_path):
    """params.yaml becomes configs/<scale>.yaml, byte for byte, followed by the section generated from it."""
    scale_project(tmp_path)
    for scale in ("paper", "demo"):
        use_scale(scale, tmp_path)
        text, source = (tmp_path / "params.yaml").read_text(), (ROOT / "configs" / f"{scale}.yaml").read_text()
        assert text.startswith(source.rstrip() + "\n") and MARKER in text[len(source.rstrip()):]
        params = load_params(tmp_path / "params.yaml")
        assert params.scale == scale and params.dvc == plan(params)
        assert yaml.safe_load(text) == {**yaml.safe_load(source), SECTION: plan(params)}
    assert (tmp_path / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()  # the committed demo
    with pytest.raises(ConfigError, match="scale: 'huge'"):
        use_scale("huge", tmp_path)


def test_cips_scale_small_switches_to_the_small_scale(tmp_path, monkeypatch):
    """`cips scale small`: the small scale's params, one DVC item per (run, seed) in its own folders."""
    from cips.cli import app

    monkeypatch.chdir(scale_project(tmp_path))
    result = CliRunner().invoke(app, ["scale", "small"])
    assert result.exit_code == 0, result.output
    assert "small scale" in result.output and "dvc repro" in result.output
    text = (tmp_path / "params.yaml").read_text()
    assert text == with_plan((ROOT / "configs/small.yaml").read_text(), "configs/small.yaml")
    params = load_params(tmp_path / "params.yaml")
    assert params.scale == "small" and params.dvc == plan(params)
    layout = Layout(".", "small")
    runs = params.dvc["runs"]
    assert len(runs) == sum(len(spec["seeds"]) for spec in params.runs.values())
    assert runs["small-fashion-cips-s1"] == {"run": "fashion-cips-s1", "group": "fashion-cips", "dataset": "fashion",
                                             "data": str(layout.data("fashion")),
                                             "dir": str(layout.run("fashion-cips-s1"))}
    assert params.dvc["datasets"]["small-fashion"]["data"] == str(layout.data("fashion"))
    assert params.dvc["scale"] == {"small": {"runs": str(layout.runs), "reports": str(layout.reports),
                                             "spectra_data": str(layout.data("fashion"))}}
    assert project_layout(tmp_path).scale == "small"
    result = CliRunner().invoke(app, ["scale", "demo"])
    assert result.exit_code == 0 and load_params(tmp_path / "params.yaml").scale == "demo"


def test_a_stale_dvc_section_fails_naming_the_refresh(tmp_path, monkeypatch):
    """Editing runs without regenerating the dvc: section is refused in one line that names
    `cips scale --refresh`; that command regenerates it and keeps the edit."""
    from cips.cli import app

    monkeypatch.chdir(scale_project(tmp_path))
    use_scale("demo", tmp_path)
    path = tmp_path / "params.yaml"
    text = path.read_text()
    head, section = text.split(MARKER)
    data = yaml.safe_load(head)
    data["runs"]["fashion-cips"]["seeds"] = [0, 1]  # two models now, the section still lists one
    stale = yaml.safe_dump(data, sort_keys=False) + MARKER + section
    path.write_text(stale)
    with pytest.raises(ConfigError, match=r"cips scale --refresh") as err:
        load_params(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{path}: dvc:")
    bad = CliRunner().invoke(app, ["scale"])  # neither a scale nor --refresh
    assert bad.exit_code == 2 and path.read_text() == stale
    result = CliRunner().invoke(app, ["scale", "--refresh"])
    assert result.exit_code == 0, result.output
    params = load_params(path)
    assert params.members_of("fashion-cips") == ["fashion-cips-s0", "fashion-cips-s1"]
    runs = params.dvc["runs"]
    assert {"fashion-cips-s0", "fashion-cips-s1"} <= set(runs) and "fashion-cips" not in runs


def test_layout_of_project_reads_the_scale_of_its_root(tmp_path, monkeypatch):
    """The scale comes from <root>/params.yaml, whatever params.yaml the working directory holds."""
    scale_project(tmp_path / "small")
    use_scale("small", tmp_path / "small")
    monkeypatch.chdir(ROOT)  # the repository's params.yaml: the demo scale
    assert project_layout(tmp_path / "small").scale == "small"
    assert project_layout(tmp_path / "small").run("x") == tmp_path / "small/runs/small/x"
    (tmp_path / "bare").mkdir()
    monkeypatch.chdir(tmp_path / "bare")
    assert project_layout(tmp_path / "bare").scale == "demo"  # no params.yaml: the demo's folders
