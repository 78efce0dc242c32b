"""scripts/compare_roots.py: the same (run, seed) in two roots, its FID difference and whether its weights agree."""

import importlib.util
import json
import shutil
from pathlib import Path

import torch

from cips.report.inputs import load_inputs

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("compare_roots", ROOT / "scripts" / "compare_roots.py")
compare_roots = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_roots)


def test_curve_agreement_reads_equal_prefix_and_first_difference():
    curve = [{"step": s, "fid": 100.0 - s / 100, "kid": 0.1} for s in (1000, 2000, 3000)]
    assert compare_roots.curve_agreement({"curve": curve}, {"curve": curve}) == (3000, None)
    moved = [dict(p) for p in curve]
    moved[0]["fid"] += 1e-9
    assert compare_roots.curve_agreement({"curve": curve}, {"curve": moved}) == (None, 1000)
    assert compare_roots.curve_agreement({"curve": curve}, {"curve": curve[:2]}) == (2000, 3000)  # one stopped early
    assert compare_roots.curve_agreement({"curve": curve}, {}) is None


def test_compare_names_fid_differences_and_changed_weights(tmp_path):
    for seed in range(3):
        shutil.copytree(ROOT / "runs" / "small" / f"fashion-cips-s{seed}", tmp_path / "runs" / "small" /
                        f"fashion-cips-s{seed}")
    moved = tmp_path / "runs" / "small" / "fashion-cips-s0" / "metrics.json"
    metrics = json.loads(moved.read_text())
    metrics["fid"] += 1.5
    moved.write_text(json.dumps(metrics))
    retrained = tmp_path / "runs" / "small" / "fashion-cips-s2" / "train.json"
    train = json.loads(retrained.read_text())
    train["curve"][2]["kid"] = float(train["curve"][2]["kid"]) + 1e-12  # the last bit counts, KID as much as FID
    retrained.write_text(json.dumps(train))
    nudged = tmp_path / "runs" / "small" / "fashion-cips-s1" / "generator.pt"
    gen = torch.load(nudged, weights_only=True)
    first = next(iter(gen["g_ema"]))
    gen["g_ema"][first].view(-1)[0] += 0.25
    torch.save(gen, nudged)

    params = ROOT / "configs" / "small.yaml"
    text = compare_roots.compare(load_inputs(params, ROOT, "small"), load_inputs(params, tmp_path, "small"),
                                 ("here", "there"))
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| fashion-")}
    assert set(rows) == {"fashion-cips-s0", "fashion-cips-s1", "fashion-cips-s2"}
    assert "| +1.50 |" in rows["fashion-cips-s0"] and rows["fashion-cips-s0"].endswith("| bit for bit |")
    assert "| +0.00 |" in rows["fashion-cips-s1"] and "differ (max 0.25)" in rows["fashion-cips-s1"]
    assert "| +0.00 |" in rows["fashion-cips-s2"] and rows["fashion-cips-s2"].endswith("| bit for bit |")
    assert "| 5000 | - |" in rows["fashion-cips-s0"] and "| 5000 | - |" in rows["fashion-cips-s1"]
    assert "| 2000 | 3000 |" in rows["fashion-cips-s2"]
    assert "3 runs: FID there - here from +0 to +1.5" in text
    evaluated = len(list((ROOT / "runs" / "small").glob("*/metrics.json")))  # grows as long runs finish
    assert f"Claims not compared: {evaluated - 3} of the {evaluated} runs" in text  # a partial verdict would mislead
