"""The committed parameter files: valid, consistent, and the scale switch."""

from pathlib import Path

import pytest
import yaml

from cips.config import ConfigError, load_params, parse_params
from cips.scale import use_scale

ROOT = Path(__file__).resolve().parents[1]


def test_params_yaml_is_the_demo_scale():
    assert (ROOT / "params.yaml").read_text() == (ROOT / "configs/demo.yaml").read_text()
    assert load_params(ROOT / "params.yaml").scale == "demo"


@pytest.mark.parametrize("scale", ["demo", "paper"])
def test_scale_files_are_valid_and_complete(scale):
    params = load_params(ROOT / "configs" / f"{scale}.yaml")
    assert params.scale == scale
    for name, ds in params.datasets.items():
        assert ds.scale == scale, name
        assert ds.source.watch, f"datasets.{name}.source.watch: dvc.yaml needs it"
    cells = {}
    for name in params.runs:
        run = params.run(name)
        for table, cell in run.tables.items():
            key = (table, cell, params.datasets[run.dataset].stands_for or run.dataset)
            assert key not in cells, f"{name} and {cells.get(key)} feed the same cell {key}"
            cells[key] = name
    # every ablation of Table 3 and every patch size of Table 5 has a run at both scales
    assert {c for (t, c, _) in cells if t == "table3"} == {"base", "ne", "nofourier", "main", "residual", "sine"}
    assert {c for (t, c, _) in cells if t == "table5"} == {"full", "half", "quarter"}
    for role in ("base", "ne", "stylegan2"):
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


def test_scale_switch_copies_the_scale_file(tmp_path):
    (tmp_path / "configs").mkdir()
    for scale in ("demo", "paper"):
        (tmp_path / "configs" / f"{scale}.yaml").write_text((ROOT / "configs" / f"{scale}.yaml").read_text())
    use_scale("paper", tmp_path)
    assert load_params(tmp_path / "params.yaml").scale == "paper"
    use_scale("demo", tmp_path)
    assert (tmp_path / "params.yaml").read_text() == (ROOT / "configs/demo.yaml").read_text()
    with pytest.raises(ConfigError, match="scale: 'huge'"):
        use_scale("huge", tmp_path)
