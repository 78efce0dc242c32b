"""The resolved config of a run holds what its result depends on, so a knob re-runs only what it changes."""

from pathlib import Path

import yaml

from cips.config import parse_params, resolved_run

TEST = Path(__file__).resolve().parents[1] / "configs" / "test.yaml"


def resolved_with(**dotted) -> dict[str, dict]:
    data = yaml.safe_load(TEST.read_text())
    for key, value in dotted.items():
        section, name = key.split("__")
        data[section][name] = value
    params = parse_params(data)
    return {run: resolved_run(params, run) for run in params.runs}


def changed(**dotted) -> dict[str, set[str]]:
    before, after = resolved_with(), resolved_with(**dotted)
    return {part: {r for r in before if before[r][part] != after[r][part]} for part in ("train", "eval")}


def test_a_model_knob_changes_only_the_runs_that_inherit_it():
    c = changed(model__embeddings=False)
    assert c["train"] == {"fashion-cips", "fashion-patch-half", "photos-cips"}
    assert c["eval"] == set()


def test_operational_keys_change_nothing():
    assert changed(train__log_every=7, train__checkpoint_every=3, train__workers=1) == {"train": set(), "eval": set()}


def test_stylegan2_ignores_cips_keys_and_cips_ignores_stylegan2_keys():
    assert "fashion-stylegan2" not in changed(model__width=8)["train"]
    assert changed(model__channel_max=8)["train"] == {"fashion-stylegan2"}


def test_eval_knob_changes_every_evaluation_and_no_training():
    c = changed(eval__n_generated=20)
    assert c["train"] == set() and c["eval"] == set(yaml.safe_load(TEST.read_text())["runs"])
