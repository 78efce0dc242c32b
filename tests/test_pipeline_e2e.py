"""The whole product at the test scale: `dvc repro` in a throw-away git repository built from this project.

Checks that every stage ran, the tables are filled with finite numbers, every figure exists, MLflow holds
the runs with their metrics, a second `dvc repro` does nothing, `dvc exp run -S model.embeddings=false`
gives an experiment whose inheriting CIPS runs have no embeddings (shown by `dvc exp show` beside the
baseline), and an `-S` naming no key stops with one line naming it.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SKIP = ("runs/", "reports/", "dvc.lock", "data/")  # generated at demo scale; the test makes its own


def sh(cmd: list[str], cwd: Path, env: dict, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return proc


def project_copy(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for rel in listed:
        src = REPO / rel
        if rel.startswith(SKIP) or not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    shutil.copy2(REPO / "configs/test.yaml", dest / "params.yaml")


def finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def find_metric(tree, file: str, key: str) -> list[float]:
    """All values of `key` in metrics file `file` anywhere in `dvc exp show --json` output."""
    found = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == file and isinstance(v, dict):
                data = v.get("data", v)
                if finite(data.get(key)):
                    found.append(data[key])
            else:
                found += find_metric(v, file, key)
    elif isinstance(tree, list):
        for v in tree:
            found += find_metric(v, file, key)
    return found


def test_dvc_repro_at_test_scale_then_an_experiment(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    project_copy(repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.invalid"
    env["OMP_NUM_THREADS"] = "2"
    sh(["git", "init", "-q"], repo, env)
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-qm", "project"], repo, env)
    dvc = [sys.executable, "-m", "dvc"]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    runs = list(params["runs"])

    sh(dvc + ["repro"], repo, env)

    # every stage ran and is recorded
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    expected = {f"prepare@{d}" for d in params["datasets"]} | {f"reference@{d}" for d in params["datasets"]}
    expected |= {f"train@{r}" for r in runs} | {f"evaluate@{r}" for r in runs}
    expected |= {"spectra", "encodings", "report"}
    assert expected <= set(lock), expected - set(lock)
    for run in runs:
        m = json.loads((repo / "runs" / run / "metrics.json").read_text())
        assert all(finite(m[k]) for k in ("fid", "kid", "precision", "recall")) and m["scale"] == "test"
        t = json.loads((repo / "runs" / run / "train.json").read_text())
        assert t["step"] == params["train"]["steps"]

    # tables: every cell that has a run is filled with a finite number; figures exist
    tables = sorted((repo / "reports/tables").glob("table*.csv"))
    assert len(tables) == 5, tables
    out = sh([str(Path(sys.executable).parent / "cips-report"), "tables", "--format", "csv"], repo, env).stdout
    assert "fashion" in out.lower() or "ffhq" in out.lower()
    t1 = (repo / "reports/tables/table1.csv").read_text()
    assert "nan" not in t1.lower()
    figures = {p.name for p in (repo / "reports/figures").glob("*.png")}
    for name in ("fig3", "fig4", "fig5", "fig6", "fig7_spectra", "fig7_profile"):
        assert any(f.startswith(name) for f in figures), (name, figures)
        assert any(p.name.startswith(name) for p in (repo / "reports/figures").glob("*.pdf")), name
    assert (repo / "reports/README.md").is_file()

    # MLflow holds every run with its training and evaluation metrics
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("cips-test-")]
    logged = {r.info.run_name: r for r in client.search_runs(exps)}
    for run in runs:
        r = logged[run]
        assert finite(r.data.metrics.get("fid")) and finite(r.data.metrics.get("loss_g")), run
        assert r.data.tags["DVC_STAGE"] == f"train@{run}" and r.data.params["dataset"] == params["runs"][run]["dataset"]
        assert client.list_artifacts(r.info.run_id, "samples"), run  # sample grids, under the repository root
    assert (repo / "mlartifacts").is_dir() and not (repo / "mlruns").exists()

    # nothing to do the second time
    again = sh(dvc + ["repro"], repo, env)
    assert "up to date" in again.stdout.lower() and "Running stage" not in again.stdout

    # one knob: an experiment without coordinate embeddings, beside the committed baseline
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-qm", "baseline results"], repo, env)
    exp = sh(dvc + ["exp", "run", "-S", "model.embeddings=false"], repo, env)
    # only the runs whose resolved model changes are trained again (not StyleGAN2, not the ablation rows)
    retrained = set(re.findall(r"Running stage 'train@([^']+)'", exp.stdout))
    inherit = {r for r in runs if params["runs"][r].get("model", {}).get("arch", "cips") == "cips"
               and "embeddings" not in params["runs"][r].get("model", {})}
    assert retrained == inherit == {"fashion-cips", "fashion-patch-half", "photos-cips"}, retrained
    for run in runs:
        spec = params["runs"][run].get("model", {})
        c = torch.load(repo / "runs" / run / "checkpoint.pt", weights_only=False, map_location="cpu")
        if c["model"]["arch"] != "cips":
            continue
        has = any(k.startswith("embeddings.") for k in c["g_ema"])
        assert has == spec.get("embeddings", False), run  # runs that inherit the knob lose their embeddings
    shown = json.loads(sh(dvc + ["exp", "show", "--json"], repo, env).stdout)
    fids = find_metric(shown, "runs/fashion-cips/metrics.json", "fid")
    assert len(fids) >= 2 and len(set(fids)) >= 2, fids  # baseline and experiment, different models
    logged = client.search_runs(exps, filter_string="tags.DVC_EXP_NAME != ''")
    assert any(r.info.run_name == "fashion-cips" for r in logged)

    # a -S that names no key stops the first stage that reads it, with one line naming the key
    bad = sh(dvc + ["exp", "run", "-S", "model.embedingz=false"], repo, env, check=False)
    assert bad.returncode != 0 and "model.embedingz" in bad.stderr + bad.stdout
