"""The resolved config of a run holds what its result depends on, so a knob re-runs only what it changes."""

from pathlib import Path

import yaml

from cips.resolve import resolved_run
from cips.scale import parse_params

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TEST = CONFIGS / "test.yaml"


def resolved_with(config: Path = TEST, **dotted) -> dict[str, dict]:
    data = yaml.safe_load(config.read_text())
    for key, value in dotted.items():
        section, name = key.split("__")
        data[section][name] = value
    params = parse_params(data)
    return {run: resolved_run(params, run) for run in params.runs}


def changed(config: Path = TEST, **dotted) -> dict[str, set[str]]:
    before, after = resolved_with(config), resolved_with(config, **dotted)
    return {part: {r for r in before if before[r][part] != after[r][part]} for part in ("train", "eval")}


def test_a_model_knob_changes_only_the_runs_that_inherit_it():
    # the demo: CIPS runs that inherit the base model, on both datasets, beside ablations that set it themselves
    c = changed(CONFIGS / "demo.yaml", model__embeddings=False)
    assert c["train"] == {"fashion-cips", "fashion-patch-half", "fashion-patch-quarter", "photos-cips"}
    assert c["eval"] == set()
    assert changed(model__embeddings=False) == {"train": {"fashion-cips"}, "eval": set()}  # the e2e's experiment


def test_operational_keys_change_nothing():
    assert changed(train__log_every=7, train__checkpoint_every=3, train__workers=1) == {"train": set(), "eval": set()}
    assert changed(train__nproc=2, train__batch_gpu=1) == {"train": set(), "eval": set()}


def test_a_knob_added_later_changes_nothing_at_its_neutral_value_and_everything_when_set():
    assert changed(train__ema_halflife_steps=None) == {"train": set(), "eval": set()}
    assert len(changed(train__ema_halflife_steps=312.5)["train"]) > 5


def test_stylegan2_ignores_cips_keys_and_cips_ignores_stylegan2_keys():
    assert "fashion-stylegan2" not in changed(model__width=8)["train"]
    assert changed(model__channel_max=8)["train"] == {"fashion-stylegan2"}


def test_eval_knob_changes_every_evaluation_and_no_training():
    c = changed(eval__n_generated=20)
    assert c["train"] == set() and c["eval"] == set(yaml.safe_load(TEST.read_text())["runs"])


def test_resume_compares_the_runs_own_identity_only():
    """A checkpoint agrees when every key of the run's identity matches; keys only the checkpoint stored
    (another architecture's, or operational ones of an older signature) do not count, a changed one does."""
    from cips.resolve import resume_mismatch, resume_signature

    params = parse_params(yaml.safe_load(TEST.read_text()))
    mine = resume_signature(params.run("fashion-cips"))
    assert "model.channel_base" not in mine and "train.steps" not in mine and "model.width" in mine
    stored = {**mine, "model.channel_base": 1, "train.log_every": 3}
    assert resume_mismatch(mine, stored) == []
    assert resume_mismatch(mine, {**stored, "model.width": mine["model.width"] + 1}) == ["model.width"]
    assert resume_mismatch(mine, {k: v for k, v in stored.items() if k != "train.lr"}) == ["train.lr"]
