"""benchmarks/gpu_check.py keeps working: its tiny CPU run measures every part and writes the JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--tiny", "--device", "cpu", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    for arch in ("cips", "stylegan2"):
        rows = report["training"][arch]
        assert rows["largest_fp32_batch"] == 8
        for mode in ("fp32", "bf16"):
            assert rows[mode]["img_per_s"] > 0 and rows[mode]["peak_mb"] > 0
    assert report["resume"]["ok"] and report["resume"]["resumed_from"] == 4
    assert report["fid"]["features"] == [32, 2048] and report["fid"]["img_per_s"] > 0
    assert "| cips | fp32 | 8 |" in proc.stdout


def test_paper_stage_runs_the_train_stage_at_tiny_size(tmp_path):
    """benchmarks/paper_stage.py trains both Table 1 runs through the stage, accumulating passes of batch_gpu."""
    out = tmp_path / "stage.json"
    proc = subprocess.run([sys.executable, "benchmarks/paper_stage.py", "--tiny", "--steps", "2", "--batch", "4",
                           "--batch-gpu", "2", "--modes", "fp32", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert [r["run"] for r in report["rows"]] == ["ffhq-cips", "ffhq-stylegan2"]
    for row in report["rows"]:
        assert (row["steps"], row["batch"], row["batch_gpu"]) == (2, 4, 2) and row["img_per_s"] > 0
    assert report["ratio_fp32"] > 0
