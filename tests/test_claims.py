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
    Claim,
    Estimate,
    Link,
    all_claims,
    difference,
    holm,
    paired,
    to_json,
    to_markdown,
    welch,
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
    assert good.verdict == REPRODUCED and "the others': [" in good.note
    noisy = patch_claim(tmp_path / "b", {"fashion-cips": full, "fashion-patch-half": half,
                                         "fashion-patch-quarter": [40.0, 80.0, 60.0]})  # second step straddles 0
    assert noisy.verdict == INCONCLUSIVE and noisy.interval == good.interval  # the first step is the same
    low, high = map(float, noisy.note.split("the others': [")[1].split("]")[0].split(", "))
    assert low < 0 < high


def test_untested_claims_say_what_is_missing(tmp_path):
    """A dataset the scale declares gets its row before any of its runs is evaluated, and says how many are."""
    _, found = ne_claim(tmp_path, [60.0, 62.0], [40.0, 41.0])
    by_claim = {c.claim: c for c in found}
    photos = by_claim["Table 1 (photos): CIPS is of comparable quality with StyleGAN2 (not worse by more than the "
                      "margin)"]
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


def test_welch_matches_scipy_with_unequal_variances_and_unequal_n():
    """Welch's interval and one-sided p-value against scipy's own Welch test, on samples whose variances and
    sizes differ, so that the pooled degrees of freedom (n1 + n2 - 2) would give other numbers."""
    from scipy import stats

    a, b = [50.0, 70.0, 58.0, 82.0, 61.0, 75.0, 66.0], [95.0, 96.0, 97.5]
    d = welch(Estimate(a), Estimate(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    low, high = ref.confidence_interval(0.90)
    assert d.interval(0.05) == pytest.approx((low, high), rel=1e-9)
    assert d.dof == pytest.approx(ref.df, rel=1e-9) and abs(d.dof - (len(a) + len(b) - 2)) > 1.5
    assert Link("a - b", d, above=True).p_toward() == pytest.approx(
        stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue, rel=1e-9)
    assert difference(Estimate(a), Estimate(b))[1] == pytest.approx(ref.confidence_interval(0.95), rel=1e-9)
    p = paired([0.5, 0.6, 0.55, 0.52])
    assert p.interval(0.05) == pytest.approx(stats.ttest_1samp([0.5, 0.6, 0.55, 0.52], 0).confidence_interval(0.90))


def test_non_inferiority_calls_a_clearly_better_model_comparable():
    """"Comparable" as the paper uses it: a clearly better CIPS is reproduced, a clearly worse one opposite, and
    the margin columns move the verdict when the interval lies between half and twice the margin."""
    better = Link("cips - sg2", welch(Estimate([60.0, 61.0, 62.0]), Estimate([90.0, 91.0, 92.0])), above=False,
                  line=0.53 * 91.0, margin=True)
    assert better.verdict() == REPRODUCED
    worse = Link("cips - sg2", welch(Estimate([190.0, 191.0, 192.0]), Estimate([90.0, 91.0, 92.0])), above=False,
                 line=0.53 * 91.0, margin=True)
    assert worse.verdict() == OPPOSITE
    near = Link("cips - sg2", welch(Estimate([125.0, 126.0, 127.0]), Estimate([90.0, 91.0, 92.0])), above=False,
                line=0.53 * 91.0, margin=True)  # 35 above: inside 48.2, outside 24.1
    assert (near.verdict(), near.verdict(scale=0.5), near.verdict(scale=2.0)) == (REPRODUCED, OPPOSITE, REPRODUCED)
    wide = Link("cips - sg2", welch(Estimate([115.0, 130.0, 145.0]), Estimate([90.0, 91.0, 92.0])), above=False,
                line=0.53 * 91.0, margin=True)  # 39 above, the interval reaches past the margin on both sides
    low, high = wide.diff.interval()
    assert low < 0.53 * 91.0 < high and wide.verdict() == INCONCLUSIVE


def test_holm_adjusts_over_the_family_only():
    def claim(p, primary=True):
        return Claim("c", "s", "directional", "t", "x", REPRODUCED, p=p, p_opposite=1 - p, primary=primary)

    family = [claim(0.01), claim(0.04), claim(0.03), claim(0.002, primary=False)]
    holm(family)
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    assert [c.p_holm for c in family[:3]] == pytest.approx([0.03, 0.06, 0.06])
    assert [c.verdict_holm for c in family] == [REPRODUCED, INCONCLUSIVE, INCONCLUSIVE, None]


def test_the_json_names_everything_a_verdict_depends_on(tmp_path):
    _, found = ne_claim(tmp_path, [60.0, 62.0, 61.0], [40.0, 41.0, 42.0])
    data = {c["claim"]: c for c in json.loads(to_json(found))}
    ne = data["Table 3: removing coordinate embeddings (NE) makes FID worse than base"]
    assert {"budget", "statistic", "interval", "test", "margin", "margin_derivation", "verdict", "verdict_holm",
            "verdict_half_margin", "verdict_twice_margin", "verdict_95", "p", "p_holm"} <= set(ne)
    assert ne["verdict"] == REPRODUCED and ne["budget"] == "0.016 kimg (4 steps x 4)" and ne["margin"] is None
    weaker = [c for c in data.values() if not c["primary"]]
    assert weaker and all(c["verdict_holm"] is None for c in weaker)


def test_fig4_is_judged_beside_its_control_at_initialisation(tmp_path):
    """A lead the embeddings already have at initialisation and lose in training: the claim is reproduced,
    its control (what training does) is opposite, and the note gives the statistic at initialisation."""
    import numpy as np

    from cips.layout import Layout

    project(tmp_path, [60.0, 62.0], [40.0, 41.0])
    path = Layout(tmp_path, "test").report_data("encodings.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{"seeds/fig4/embeddings_high_freq": np.array([0.57, 0.56, 0.58]),
                      "seeds/fig4/fourier_high_freq": np.array([0.03, 0.03, 0.04]),
                      "seeds/fig4_init/embeddings_high_freq": np.array([0.759, 0.758, 0.761]),
                      "seeds/fig4_init/fourier_high_freq": np.array([0.037, 0.037, 0.036])})
    found = {c.source + ("/control" if "control" in c.claim else ""): c
             for c in all_claims(load_inputs(tmp_path / "params.yaml", tmp_path)) if c.source == "Fig. 4"}
    claim = found["Fig. 4"]
    assert claim.verdict == REPRODUCED and "at initialisation the same statistic is 0.723" in claim.note
    control = found["Fig. 4/control"]
    assert control.verdict == OPPOSITE and not control.primary and control.verdict_holm is None


def test_the_learning_curve_caveat_names_every_seed_still_moving_either_way(tmp_path):
    """docs/claims.md: per seed and two-sided, every cell alike. A cell whose mean is flat but one of whose seeds
    rose 8% is named with that seed; a seed that fell more than 3% is named; a cell within 3% is not."""
    from dataclasses import asdict

    from cips.report.claims import caveat, still_moving
    from cips.report.inputs import RunOutputs

    inputs = load_inputs(project(tmp_path, [60.0, 62.0], [40.0, 41.0]), tmp_path)
    curve = lambda *fids: {"curve": [{"kimg": 16.0 * (i + 1), "fid": f} for i, f in enumerate(fids)]}  # noqa: E731
    inputs.runs = {"a0": RunOutputs("a0", train=curve(120.0, 100.0, 92.0)),  # -8%
                   "a1": RunOutputs("a1", train=curve(80.0, 75.0, 81.0)),  # +8%: the cell's mean change is ~0
                   "b0": RunOutputs("b0", train=curve(100.0, 70.0, 69.0))}  # -1.4%: flat
    moving = still_moving(inputs, {"mixed": ["a0", "a1"], "flat": ["b0"]})
    assert [(m.cell, m.run, m.change) for m in moving] == [("mixed", "a0", -0.08), ("mixed", "a1", 0.08)]
    note = caveat([asdict(m) for m in moving])
    assert "mixed a0 -8.0%, a1 +8.0%" in note and "flat" not in note and "not at convergence" in note
    assert still_moving(inputs, {"flat": ["b0"]}) == [] and caveat([]) == ""


def test_a_claim_carries_its_moving_seeds_and_its_power_column(tmp_path):
    """The caveat reaches the claim whichever way its verdict goes, and the power column is
    (t(0.95) + t(0.80)) x the Welch standard error of the link."""
    from scipy import stats

    from cips.report.claims import detectable

    params = project(tmp_path, [60.0, 62.0, 61.0], [40.0, 41.0, 42.0])
    train = tmp_path / "runs/test/fashion-ne-s1/train.json"
    train.write_text(json.dumps({"curve": [{"kimg": 16.0, "fid": 50.0}, {"kimg": 32.0, "fid": 54.0}]}))
    claim = next(c for c in all_claims(load_inputs(params, tmp_path)) if c.key == "table3/ne")
    assert claim.verdict == REPRODUCED  # for the paper: the caveat applies all the same
    assert claim.moving == [{"cell": "ne", "run": "fashion-ne-s1", "seed": None, "change": 0.08}]
    assert "fashion-ne-s1 +8.0%" in to_markdown([claim], "test")  # the caveat beside the verdict
    d = welch(Estimate([60.0, 62.0, 61.0]), Estimate([40.0, 41.0, 42.0]))
    expected = (stats.t.ppf(0.95, d.dof) + stats.t.ppf(0.80, d.dof)) * d.se
    assert claim.detectable == [pytest.approx(expected, abs=1e-4)] and detectable(d) == pytest.approx(expected)
    assert detectable(welch(Estimate([1.0]), Estimate([2.0, 3.0]))) is None


def five_seeds(tmp_path: Path, ne: list[float], base: list[float]) -> Path:
    """Two budgets; at the longer one, NE and base declare five seeds (`ne`, `base`: their FIDs, seed order)."""
    params = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    runs = params["runs"]
    for cell, fids in (("ne", ne), ("base", base)):
        spec = {k: v for k, v in runs[f"fashion-{cell}"].items() if k != "seeds"}
        runs[f"fashion-{cell}"] = {**spec, "seeds": [0, 1, 2]}
        runs[f"fashion-{cell}-long"] = {**spec, "seeds": list(range(len(fids))), "train": {"steps": 8}}
        for seed in range(3):
            name = f"fashion-{cell}-s{seed}"
            write_run(tmp_path, name, fake_metrics(name, "fashion", 50.0 + seed, scale="test", n=16, resolution=16),
                      scale="test")
        for seed, fid in enumerate(fids):
            name = f"fashion-{cell}-long-s{seed}"
            write_run(tmp_path, name, fake_metrics(name, "fashion", fid, scale="test", n=16, resolution=16),
                      scale="test")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path / "params.yaml"


def test_five_seeds_are_judged_beside_their_first_three(tmp_path):
    """docs/claims.md, five seeds: at the budget whose cells have five seeds the n = 5 verdict is primary and the
    verdict on seeds 0-2 follows as its own family; the budget with three seeds has no such twin."""
    params = five_seeds(tmp_path, ne=[60.0, 61.0, 62.0, 30.0, 31.0], base=[40.0, 41.0, 42.0, 43.0, 44.0])
    found = [c for c in all_claims(load_inputs(params, tmp_path)) if c.key == "table3/ne"]
    by_budget = {c.budget: c for c in found}
    assert set(by_budget) == {"0.016 kimg", "0.032 kimg", "0.032 kimg, seeds 0-2"}, set(by_budget)
    five, three = by_budget["0.032 kimg"], by_budget["0.032 kimg, seeds 0-2"]
    assert five.values["ne"]["n"] == 5 and three.values["ne"]["n"] == 3 and three.values["base"]["n"] == 3
    assert three.verdict == REPRODUCED and five.verdict == INCONCLUSIVE  # seeds 3-4 overturn the first three
    assert three.values["ne"]["mean"] == 61.0 and five.values["ne"]["mean"] == pytest.approx(48.8)


@pytest.mark.parametrize(("main_offset", "verdict"), [(0.05, REPRODUCED), (-0.05, OPPOSITE), (0.0, INCONCLUSIVE)])
def test_skip_connections_spectra_claim_compares_main_with_base(tmp_path, main_offset, verdict):
    """Sec. 4.5: CIPS-main's profile farther from the real one than CIPS-base's (over the upper half)."""
    import numpy as np

    from cips.analysis.spectrum import SpectrumParams, SpectrumResult, save_spectra
    from cips.layout import Layout

    project(tmp_path, [60.0, 62.0], [40.0, 41.0])
    real = np.linspace(1.0, 0.0, 8)

    def result(offset: float) -> SpectrumResult:
        return SpectrumResult(np.zeros((8, 8)), real + offset, np.zeros(8), np.arange(8.0), 10, SpectrumParams())

    jitter = (-0.004, 0.0, 0.004)
    seeds = {"real": [result(0.0)], "CIPS-base": [result(0.1 + j) for j in jitter],
             "CIPS-main": [result(0.1 + main_offset + j) for j in jitter]}
    path = Layout(tmp_path, "test").report_data("spectra.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_spectra(path, {k: v[0] for k, v in seeds.items()}, {k: v for k, v in seeds.items() if k != "real"})
    claim = next(c for c in all_claims(load_inputs(tmp_path / "params.yaml", tmp_path)) if c.source == "Sec. 4.5")
    assert claim.verdict == verdict and claim.test.startswith("one-sided Welch")


def test_an_analysis_skipped_by_its_stage_leaves_its_claims_untested_with_the_reason(tmp_path):
    from cips.files import save_skipped
    from cips.layout import Layout

    project(tmp_path, [60.0, 62.0], [40.0, 41.0])
    for name in ("spectra", "encodings"):
        save_skipped(Layout(tmp_path, "test").report_data(f"{name}.npz"), f"analysis.{name}: none")
    found = {c.source: c for c in all_claims(load_inputs(tmp_path / "params.yaml", tmp_path))}
    assert "analysis.encodings: none" in found["Fig. 4"].note and "analysis.spectra: none" in found["Sec. 4.5"].note
    assert found["Fig. 7"].verdict == INCONCLUSIVE


def two_budgets(tmp_path: Path) -> Path:
    """project() plus fashion-ne-long and fashion-base-long: the same cells at 40 steps instead of 4."""
    path = project(tmp_path, [60.0, 62.0], [40.0, 41.0])
    params = yaml.safe_load(path.read_text())
    for cell, fids in (("ne", [30.0, 31.0]), ("base", [35.0, 36.0])):
        spec = params["runs"][f"fashion-{cell}"]
        name = f"fashion-{cell}-long"
        params["runs"][name] = {**spec, "seeds": [0, 1], "train": {"steps": 40}}
        for seed, fid in enumerate(fids):
            member = f"{name}-s{seed}"
            write_run(tmp_path, member, fake_metrics(member, "fashion", fid, scale="test", n=16, resolution=16),
                      scale="test")
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_claims_at_two_budgets_are_judged_apart_and_shown_side_by_side(tmp_path):
    """A longer budget of the same cells: each budget its own family, the same claim at both, side by side."""
    path = two_budgets(tmp_path)
    found = all_claims(load_inputs(path, tmp_path))
    ne = [c for c in found if "(NE)" in c.claim]
    assert [c.budget for c in ne] == ["0.016 kimg", "0.16 kimg"]  # test scale: 4 and 40 steps of batch 4
    assert [c.verdict for c in ne] == [REPRODUCED, OPPOSITE]  # NE worse at the short budget, better at the long
    assert {c.values["ne"]["mean"] for c in ne} == {61.0, 30.5}
    assert not any(c.claim.startswith("Table 5") for c in found if c.budget == "0.16 kimg")  # no such run there
    text = to_markdown(found, "test")
    row = next(line for line in text.splitlines() if "(NE)" in line and line.count("**") == 4)
    assert row.index(REPRODUCED) < row.index(OPPOSITE)


def test_a_runs_budget_twin_differs_from_it_in_steps_only(tmp_path):
    from cips.analysis.budgets import budget_twins, other_budgets
    from cips.scale import load_params

    params = load_params(two_budgets(tmp_path))
    assert budget_twins(params, "fashion-base") == {16: "fashion-base", 160: "fashion-base-long"}
    assert budget_twins(params, "fashion-base-long") == {160: "fashion-base-long", 16: "fashion-base"}
    assert other_budgets(params, {"base": "fashion-base", "ne": "fashion-ne", "sg2": "fashion-stylegan2"}) == {
        160: {"base": "fashion-base-long", "ne": "fashion-ne-long"}}  # NE's twin is NE's, not base's; none of sg2


def test_figure_claims_are_judged_at_each_budget_the_analyses_hold(tmp_path):
    """The analyses' data of the runs' longer twins (budget/<images>/): Fig. 4 and Sec. 4.5 judged at that budget
    too, in its family, from its own seeds; the named runs' verdicts stay as they were."""
    import numpy as np

    from cips.analysis.spectrum import SpectrumParams, SpectrumResult, save_spectra
    from cips.layout import Layout

    path = two_budgets(tmp_path)
    layout = Layout(tmp_path, "test")
    layout.report_data("x").parent.mkdir(parents=True, exist_ok=True)
    hf = {"embeddings": [0.57, 0.56, 0.58], "fourier": [0.03, 0.03, 0.04]}
    init = {"embeddings": [0.759, 0.758, 0.761], "fourier": [0.037, 0.037, 0.036]}
    np.savez(layout.report_data("encodings.npz"), **{
        **{f"{at}seeds/{when}/{k}_high_freq": np.array(v) for at in ("", "budget/160/")
           for when, d in (("fig4", hf), ("fig4_init", init)) for k, v in d.items()},
        "budget/160/seeds/fig4/fourier_high_freq": np.array([0.60, 0.61, 0.62]),  # the long twin: Fourier ahead
        "budget/160/runs": np.array(json.dumps({"base": "fashion-base-long"}))})
    real = np.linspace(1.0, 0.0, 8)

    def result(offset: float) -> SpectrumResult:
        return SpectrumResult(np.zeros((8, 8)), real + offset, np.zeros(8), np.arange(8.0), 10, SpectrumParams())

    short = {"CIPS-base": [result(0.1 + j) for j in (-0.004, 0.0, 0.004)],
             "CIPS-main": [result(0.2 + j) for j in (-0.004, 0.0, 0.004)]}
    long = {"CIPS-base": [result(0.1 + j) for j in (-0.004, 0.0)],
            "CIPS-main": [result(0.0 + j) for j in (-0.004, 0.0)]}  # skips closer to the real spectrum
    save_spectra(layout.report_data("spectra.npz"), {"real": result(0.0), **{k: v[0] for k, v in short.items()}},
                 short, {160: ({"CIPS-base": "fashion-base-long", "CIPS-main": "fashion-cips-long"}, long)})
    found = {(c.source, c.budget): c for c in all_claims(load_inputs(path, tmp_path)) if "control" not in c.claim}
    assert found[("Fig. 4", "0.016 kimg")].verdict == REPRODUCED
    assert found[("Fig. 4", "0.16 kimg")].verdict == OPPOSITE
    assert found[("Fig. 4", "0.16 kimg")].budget == "0.16 kimg" and found[("Fig. 4", "0.16 kimg")].verdict_holm
    assert found[("Sec. 4.5", "0.016 kimg")].verdict == REPRODUCED
    sec45 = found[("Sec. 4.5", "0.16 kimg")]
    assert sec45.verdict == OPPOSITE and sec45.values["CIPS-base"]["n"] == 2
    assert "no budget/160/ data" not in found[("Fig. 7", "0.16 kimg")].note  # it has spectra, but no NE/StyleGAN2


def test_intervals_print_their_significant_digits():
    """A spectral interval of thousandths prints as such, not as [-0.00, -0.00]."""
    from cips.report.claims import _interval

    assert _interval([-0.0025, -0.0002]) == "[-0.0025, -0.0002]"
    assert _interval([-9.4, 0.3]) == "[-9.40, 0.30]" and _interval(None) == "n/a"
    assert _interval([0.45, 0.5], 3) == "[0.450, 0.500]"


def test_compare_judges_a_pair_of_run_entries_as_the_claims_report_does():
    """`cips-report compare A B` on two committed groups: the same difference, interval, verdict and power as the
    claims report gives for that pair (Table 3's NE against base at 160k)."""
    from typer.testing import CliRunner

    from cips.report.claims import compare_groups
    from cips.report.cli import app

    inputs = load_inputs(REPO / "params.yaml", REPO, "small")
    mine = compare_groups(inputs, "fashion-ne-long", "fashion-base-long")
    claim = next(c for c in all_claims(inputs) if c.key == "table3/ne" and c.budget == "160 kimg")
    assert (mine.interval, mine.verdict, mine.verdict_95, mine.detectable, mine.p) == (
        claim.interval, claim.verdict, claim.verdict_95, claim.detectable, claim.p)
    assert mine.statistic.split(" = ")[1] == claim.statistic.split(" = ")[1]
    assert [{**m, "cell": None} for m in mine.moving] == [{**m, "cell": None} for m in claim.moving]  # same seeds
    out = CliRunner().invoke(app, ["compare", "fashion-ne-long", "fashion-base-long", "--scale", "small",
                                   "--root", str(REPO)])
    assert out.exit_code == 0, out.output
    low, high = claim.interval
    assert f"90% interval: [{low:.4g}, {high:.4g}]" in out.output and f"verdict (one-sided test at 5%): " \
        f"{claim.verdict}" in out.output
    better = compare_groups(inputs, "fashion-ne-long", "fashion-base-long", worse=False)
    assert better.interval == mine.interval and better.p == pytest.approx(1 - mine.p, abs=1e-3)


def test_compare_names_a_group_without_results(tmp_path):
    from typer.testing import CliRunner

    from cips.report.cli import app

    params = project(tmp_path, [60.0, 62.0], [40.0, 41.0])
    out = CliRunner().invoke(app, ["compare", "fashion-ne", "fashion-stylegan2", "--params", str(params),
                                   "--root", str(tmp_path)])
    assert out.exit_code != 0 and "runs.fashion-stylegan2: none of its 1 model(s) has a fid" in out.output, out.output
