"""The paper's claims as checks: intervals on known numbers, verdicts that follow the numbers."""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from test_report_tables import fake_metrics, write_run

from cips.report.claims import (
    INCONCLUSIVE,
    OPPOSITE,
    REPRODUCED,
    Estimate,
    all_claims,
    difference,
    to_json,
    to_markdown,
)
from cips.report.inputs import load_inputs

REPO = Path(__file__).resolve().parents[1]


def test_t_interval_of_known_numbers():
    low, high = Estimate([1.0, 2.0, 3.0]).interval()  # mean 2, sd 1, t(0.975, 2) = 4.3027
    assert low == pytest.approx(2 - 4.3027 / 3**0.5, abs=1e-3) and high == pytest.approx(2 + 4.3027 / 3**0.5, abs=1e-3)
    assert Estimate([5.0]).interval() is None


def test_welch_interval_of_known_numbers():
    diff, (low, high) = difference(Estimate([10.0, 11.0, 12.0]), Estimate([5.0, 6.0, 7.0]))
    # se = sqrt(1/3 + 1/3), dof = 4, t(0.975, 4) = 2.7764
    half = 2.7764 * (2 / 3) ** 0.5
    assert diff == 5 and low == pytest.approx(5 - half, abs=1e-3) and high == pytest.approx(5 + half, abs=1e-3)
    assert difference(Estimate([1.0]), Estimate([2.0, 3.0]))[1] is None


def project(tmp_path: Path, ne: list[float], base: list[float]) -> Path:
    """The test scale with one run per seed of Table 3's base and NE cells, FIDs as given."""
    params = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    runs = params["runs"]
    for cell, fids in (("ne", ne), ("base", base)):
        spec = runs[f"fashion-{cell}"]
        for i, fid in enumerate(fids):
            name = f"fashion-{cell}" if i == 0 else f"fashion-{cell}-s{i}"
            runs[name] = {**spec, "train": {"seed": i}}
            write_run(tmp_path, name, fake_metrics(name, "fashion", fid, scale="test", n=16, resolution=16),
                      scale="test")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path / "params.yaml"


def ne_claim(tmp_path, ne, base):
    params = project(tmp_path, ne, base)
    found = all_claims(load_inputs(params, tmp_path))
    return next(c for c in found if "coordinate embeddings (NE)" in c.claim), found


@pytest.mark.parametrize("ne,base,verdict", [
    ([60.0, 62.0, 61.0], [40.0, 41.0, 42.0], REPRODUCED),
    ([40.0, 41.0, 42.0], [60.0, 62.0, 61.0], OPPOSITE),  # the same numbers, flipped: the verdict flips
    ([50.0, 60.0, 40.0], [48.0, 52.0, 58.0], INCONCLUSIVE),  # intervals overlap
    ([60.0], [40.0], INCONCLUSIVE),  # one seed: no interval
])
def test_verdict_follows_the_numbers(tmp_path, ne, base, verdict):
    claim, _ = ne_claim(tmp_path, ne, base)
    assert claim.verdict == verdict
    assert claim.values["ne"]["n"] == len(ne) and claim.values["base"]["n"] == len(base)
    assert (claim.interval is None) == (len(ne) < 2)


def test_formats_and_untestable_claims(tmp_path):
    _, found = ne_claim(tmp_path, [60.0, 62.0], [40.0, 41.0])
    data = json.loads(to_json(found))
    assert all({"claim", "source", "statistic", "verdict", "interval"} <= set(c) for c in data)
    assert {c["source"] for c in data} >= {"Table 1", "Table 3", "Table 5", "Fig. 4", "Fig. 7"}
    fig4 = next(c for c in data if c["source"] == "Fig. 4")
    assert fig4["verdict"] == INCONCLUSIVE and "not tested" in fig4["note"]  # no encodings.npz here
    md = to_markdown(found, "test")
    assert md.count("\n| ") == len(found) + 1 and "**reproduced**" in md


def patch_claim(tmp_path: Path, fids: dict[str, list[float]]):
    """Table 5's claim on the test scale, with a quarter run added and one run per seed of each cell."""
    params = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    runs = params["runs"]
    runs["fashion-patch-quarter"] = {"dataset": "fashion", "train": {"patch": 4}, "tables": {"table5": "quarter"}}
    for run, values in fids.items():
        for i, fid in enumerate(values):
            name = run if i == 0 else f"{run}-s{i}"
            runs[name] = {**runs[run], "train": {**runs[run].get("train", {}), "seed": i}}
            write_run(tmp_path, name, fake_metrics(name, "fashion", fid, scale="test", n=16, resolution=16),
                      scale="test")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    found = all_claims(load_inputs(tmp_path / "params.yaml", tmp_path))
    return next(c for c in found if c.source == "Table 5")


def test_patch_claim_needs_both_steps(tmp_path):
    full, half = [40.0, 41.0, 42.0], [50.0, 51.0, 52.0]
    good = patch_claim(tmp_path / "a", {"fashion-cips": full, "fashion-patch-half": half,
                                        "fashion-patch-quarter": [60.0, 61.0, 62.0]})
    assert good.verdict == REPRODUCED and "the second's: [" in good.note
    noisy = patch_claim(tmp_path / "b", {"fashion-cips": full, "fashion-patch-half": half,
                                         "fashion-patch-quarter": [40.0, 80.0, 60.0]})  # second step straddles 0
    assert noisy.verdict == INCONCLUSIVE and noisy.interval == good.interval  # the first step is the same
    low, high = map(float, noisy.note.split("the second's: [")[1].split("]")[0].split(", "))
    assert low < 0 < high


def test_untested_claims_say_what_is_missing(tmp_path):
    """A dataset the scale declares gets its row before any of its runs is evaluated, and says how many are."""
    _, found = ne_claim(tmp_path, [60.0, 62.0], [40.0, 41.0])
    by_claim = {c.claim: c for c in found}
    photos = by_claim["Table 1 (photos): CIPS and StyleGAN2 reach comparable FID"]
    assert photos.verdict == INCONCLUSIVE and "cips 0 of 1 evaluated, stylegan2 not declared" in photos.note
    patches = by_claim["Table 5 (fashion): full-image FID gets worse as the patch size K shrinks"]
    assert "full 0 of 1 evaluated, half 0 of 1 evaluated, quarter not declared" in patches.note
    alone = next(c for c in found if "the activation alone" in c.claim)
    assert alone.verdict == INCONCLUSIVE and "sine not declared, nofourier not declared" in alone.note
    _, found = ne_claim(tmp_path, [60.0], [40.0, 41.0])
    ne = next(c for c in found if "(NE)" in c.claim)
    assert ne.verdict == INCONCLUSIVE and ne.note == "one seed of ne: no interval"


def test_cli_prints_the_claims(tmp_path):
    from typer.testing import CliRunner

    from cips.report.cli import app

    project(tmp_path, [60.0, 62.0], [40.0, 41.0])
    shutil.copy(tmp_path / "params.yaml", tmp_path / "p.yaml")
    out = CliRunner().invoke(app, ["claims", "--format", "json", "--params", str(tmp_path / "p.yaml"),
                                   "--root", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert any(c["verdict"] == REPRODUCED for c in json.loads(out.stdout))
