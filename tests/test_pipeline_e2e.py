"""The whole product at the test scale: `dvc repro` in a throw-away git repository built from this project.

Checks that every stage ran with networking disabled in every process (a socket guard), each table cell of
ours is its run's metrics.json value, every figure exists, MLflow holds the runs with their metrics, a second
`dvc repro` does nothing, editing a published number re-runs only the report, new reference features (another
machine) re-score nothing, DVC refuses `-S` with an unknown key, and two queued experiments run side by side by
`dvc queue start -j 2` (one knob, `-S model.embeddings=false`, and one run's own override) both finish and log
their runs with FIDs into the one MLflow store, each re-running only the chains whose resolved config it changes
(and the stages that read every run); `dvc exp show` shows them beside the baseline, and the knob's inheriting
CIPS runs have no embeddings. A misspelt key in params.yaml stops with our one-line message. Also:
`cips scale paper` / `cips scale small` / `cips scale demo` switch the graph between the paper's runs, the
small scale's (one stage per seed) and the demo's. Every scale keeps its files in folders of its own
(cips.layout.Layout: runs/test/, reports/test/, data/test/).
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from cips.layout import Layout
from cips.plan import stage_key
from cips.scale import project_layout, with_plan
from cips.tracking import stage_name

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SKIP = ("runs/", "reports/", "dvc.lock", "data/")  # generated at other scales; the test makes its own
ANALYSES = ("spectra", "encodings", "beyond", "report")  # one stage per scale, reading every run of it


def scale_params(config: str) -> str:
    """What `cips scale` writes into params.yaml for configs/<config>: the file plus its generated dvc: section
    (`cips scale` itself offers the scales a user picks; the test scale is written the same way)."""
    return with_plan((REPO / "configs" / config).read_text(), f"configs/{config}")


def expected_stages(params: dict) -> set[str]:
    """Every stage dvc.yaml makes of a scale's params: per dataset, per (run, seed), and per scale."""
    from cips.scale import parse_params

    loaded = parse_params(params)
    scale = loaded.scale
    return ({f"{s}@{stage_key(scale, d)}" for s in ("prepare", "reference") for d in loaded.datasets}
            | {stage_name(s, scale, m) for s in ("resolve", "train", "evaluate") for m in loaded.members()}
            | {f"{s}@{scale}" for s in ANALYSES})


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
    (dest / "params.yaml").write_text(scale_params("test.yaml"))


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


# Installed in every Python process of the first `dvc repro` (sitecustomize on PYTHONPATH): any attempt to
# reach another host is refused and recorded, and each process records that the guard was armed.
NET_GUARD = r"""
import os, socket, sys

_log = os.environ["CIPS_TEST_NET_LOG"]


def _note(kind, what):
    with open(_log, "a") as f:
        f.write(f"{kind}\t{what}\t{' '.join(sys.orig_argv)}\n")


def _local(host):
    return host in ("localhost", "127.0.0.1", "::1", "") or str(host).startswith("127.")


def _refuse(what):
    _note("blocked", what)
    raise OSError(f"network disabled by the test: {what}")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _local(host if isinstance(host, str) else (host or b"").decode()):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
_note("armed", "")
"""


def net_guard(tmp_path: Path, env: dict) -> tuple[dict, Path]:
    """`env` with the socket guard installed in every Python process, and the guard's log."""
    guard = tmp_path / "net-guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NET_GUARD)
    log = tmp_path / "net.log"
    log.touch()
    path = os.pathsep.join(p for p in (str(guard), env.get("PYTHONPATH")) if p)
    return {**env, "PYTHONPATH": path, "CIPS_TEST_NET_LOG": str(log)}, log


def ran_stages(stdout: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", stdout))


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of a reports/tables/table<N>.csv (its '#' heading lines skipped)."""
    import csv

    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def number(cell: str) -> str:
    """The number a table cell shows, without footnote marks or a '(K=..)' suffix."""
    return cell.split()[0]


def check_tables_against_metrics(repo: Path, params: dict) -> int:
    """Every table cell of ours shows its run's metrics.json value (as printed: 2 digits for FID, 3 for P&R);
    returns how many cells were checked."""
    layout = Layout(repo, params["scale"])
    tables = {n: read_table(layout.tables / f"table{n}.csv") for n in (1, 2, 3, 5)}
    labels = {"ffhq": "FFHQ", "satellite-landscapes": "Satellite-Landscapes"}
    checked = 0
    for run, spec in params["runs"].items():
        m = json.loads(layout.metrics(run).read_text())
        dataset = params["datasets"][spec["dataset"]]
        paper_row = labels[dataset["stands_for"]]
        for table, cell in spec.get("tables", {}).items():
            n = int(table.removeprefix("table"))
            if n == 1:
                row = next(r for r in tables[1] if r["dataset"] == paper_row)
                column = {"cips": "CIPS (ours)", "stylegan2": "StyleGANv2 (ours)"}[cell]
                shown = {column: f"{m['fid']:.2f}"}
            elif n == 2:
                row = next(r for r in tables[2] if r["model"] == {"cips": "CIPS", "stylegan2": "StyleGANv2"}[cell])
                shown = {"precision (ours)": f"{m['precision']:.3f}", "recall (ours)": f"{m['recall']:.3f}"}
            elif n == 3:
                row = next(r for r in tables[3] if r["run"] == run)
                shown = {"FID (ours)": f"{m['fid']:.2f}"}
            else:
                row = next(r for r in tables[5] if r["dataset"] == paper_row)
                shown = {f"{cell} (ours)": f"{m['fid']:.2f}"}
            for column, text in shown.items():
                assert number(row[column]) == text, (run, table, column, row[column], text)
                checked += 1
            if "floor" in row and n != 2:
                assert f"{m['floor']['fid']:.2f}" in row["floor"].split(" / "), (run, table, row["floor"])
    return checked


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
    scale = params["scale"]
    layout, rel = Layout(repo, scale), Layout("", scale)  # rel: paths as DVC names them
    assert all("seeds" not in spec for spec in params["runs"].values())  # one model per run at this scale

    guarded, net_log = net_guard(tmp_path, env)
    sh(dvc + ["repro"], repo, guarded)

    # nothing is downloaded at run time: every stage ran with networking disabled in its process
    notes = net_log.read_text().splitlines()
    assert not [n for n in notes if n.startswith("blocked")], notes
    armed = "\n".join(n for n in notes if n.startswith("armed"))
    for module in ("stages.prepare", "stages.reference", "stages.train", "stages.evaluate", "stages.spectra",
                   "stages.encodings", "cips-report"):
        assert module in armed, (module, armed)

    # every stage ran and is recorded
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    expected = expected_stages(params)
    assert {"train@fashion-cips", "prepare@fashion", "report@test"} <= expected  # the test scale's names
    assert expected <= set(lock), expected - set(lock)
    for run in runs:
        m = json.loads(layout.metrics(run).read_text())
        assert all(finite(m[k]) for k in ("fid", "kid", "precision", "recall")) and m["scale"] == "test"
        t = json.loads(layout.train_info(run).read_text())
        assert t["step"] == params["train"]["steps"]

    # tables: each cell of ours is its run's metrics.json value; figures exist
    tables = sorted(layout.tables.glob("table*.csv"))
    assert len(tables) == 5, tables
    expected_cells = sum(len(spec.get("tables", {})) + ("table2" in spec.get("tables", {}))
                         for spec in params["runs"].values())
    assert check_tables_against_metrics(repo, params) == expected_cells
    out = sh([str(Path(sys.executable).parent / "cips-report"), "tables", "--format", "csv"], repo, env).stdout
    shown = json.loads(layout.metrics("fashion-cips").read_text())["fid"]
    assert f"{shown:.2f}" in out  # the command prints the same tables
    figures = {p.name for p in layout.figures.glob("*.png")}
    for name in ("fig3", "fig4", "fig5", "fig6", "fig7_spectra", "fig7_profile"):
        assert any(f.startswith(name) for f in figures), (name, figures)
        assert any(p.name.startswith(name) for p in layout.figures.glob("*.pdf")), name
    assert (layout.reports / "README.md").is_file()

    # MLflow holds every run with its training and evaluation metrics
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("cips-test-")]
    logged = {r.info.run_name: r for r in client.search_runs(exps)}
    for run in runs:
        r = logged[run]
        assert finite(r.data.metrics.get("fid")) and finite(r.data.metrics.get("loss_g")), run
        assert r.data.tags["DVC_STAGE"] == stage_name("train", scale, run) == f"train@{run}"
        assert r.data.params["dataset"] == params["runs"][run]["dataset"]
        assert client.list_artifacts(r.info.run_id, "samples"), run  # sample grids, under the repository root
    assert (repo / "mlartifacts").is_dir() and not (repo / "mlruns").exists()

    # nothing to do the second time
    again = sh(dvc + ["repro"], repo, env)
    assert "up to date" in again.stdout.lower() and "Running stage" not in again.stdout

    # another machine: a clone has no features (data/ is not in git), and another CPU or thread count may give
    # them other last bits. dvc.lock records only what defines them (reference.json, git-tracked), so nothing
    # runs and dvc.lock stays byte for byte what git has; a forced reference@ computes them again, with the
    # same identity and the same dvc.lock
    identity = {d: layout.reference_identity(d).read_bytes() for d in params["datasets"]}
    lock = (repo / "dvc.lock").read_bytes()
    for d in params["datasets"]:
        layout.reference_bundle(d).unlink()
        shutil.rmtree(layout.reference_cache(d))
    again = sh(dvc + ["repro"], repo, {**env, "OMP_NUM_THREADS": "1"})
    assert "Running stage" not in again.stdout and (repo / "dvc.lock").read_bytes() == lock, again.stdout
    stages = [f"reference@{stage_key(scale, d)}" for d in params["datasets"]]
    again = sh(dvc + ["repro", "-f", "-s", *stages], repo, {**env, "OMP_NUM_THREADS": "1"})
    assert ran_stages(again.stdout) == set(stages), again.stdout
    assert {d: layout.reference_identity(d).read_bytes() for d in params["datasets"]} == identity
    assert all(layout.reference_bundle(d).is_file() for d in params["datasets"])
    assert (repo / "dvc.lock").read_bytes() == lock

    # the published numbers are the report's alone: editing one re-runs report@ and nothing else
    paper = repo / "cips" / "paper.py"
    original = paper.read_text()
    paper.write_text(original.replace('"cips": 4.38}', '"cips": 4.39}', 1))
    assert paper.read_text() != original
    again = sh(dvc + ["repro"], repo, env)
    assert ran_stages(again.stdout) == {f"report@{scale}"}, again.stdout
    paper.write_text(original)  # the experiment below runs report@ again

    # DVC itself refuses a -S naming no key of params.yaml, before any stage runs
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-qm", "baseline results"], repo, env)
    bad = sh(dvc + ["exp", "run", "-S", "model.embedingz=false"], repo, env, check=False)
    assert bad.returncode != 0 and "model.embedingz" in bad.stderr + bad.stdout
    assert not ran_stages(bad.stdout)

    # two experiments at once (`dvc queue start -j 2`): one knob for every run (a CIPS without coordinate
    # embeddings) and one run's own override (a smaller patch). Both finish and log their runs, with FIDs, into
    # the one MLflow store; each re-runs only the chains whose resolved config it changes (and the stages that
    # read every run). (One queue holds both so the test trains them side by side: `dvc exp run -S` in the
    # workspace goes through the same params and stages.)
    sh(dvc + ["exp", "run", "--queue", "--name", "no-embeddings", "-S", "model.embeddings=false"], repo, env)
    sh(dvc + ["exp", "run", "--queue", "--name", "smaller-patch", "-S", "runs.fashion-patch-half.train.patch=4"],
       repo, env)
    # the runs that inherit the knob: not StyleGAN2, not the runs that set embeddings themselves (at the test
    # scale all but one, so the queue trains two models; tests/test_resolve.py follows the knob through the demo's)
    inherit = {r for r in runs if params["runs"][r].get("model", {}).get("arch", "cips") == "cips"
               and "embeddings" not in params["runs"][r].get("model", {})}
    assert inherit == {"fashion-cips"}, inherit
    queued = {"no-embeddings": inherit, "smaller-patch": {"fashion-patch-half"}}  # experiment: runs it retrains
    sh(dvc + ["queue", "start", "-j", "2"], repo, {**env, "OMP_NUM_THREADS": "1"})  # two workers, one core each
    deadline = time.time() + 900
    while time.time() < deadline:
        status = sh(dvc + ["queue", "status"], repo, env).stdout
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(3)
    if status.count("Success") != 2 or "Failed" in status:
        logs = [sh(dvc + ["queue", "logs", n], repo, env, check=False).stdout[-2000:] for n in queued]
        pytest.fail(f"{status}\n" + "\n".join(logs))
    for name, retrain in queued.items():
        log = sh(dvc + ["queue", "logs", name], repo, env).stdout
        ran = ran_stages(log)
        assert {r for r in runs if stage_name("train", scale, r) in ran} == retrain, (name, log[-3000:])
        assert {stage_name("resolve", scale, r) for r in retrain} <= ran, (name, log[-3000:])
        # a run's own override re-resolves that run alone; the knob may re-resolve every run (unchanged ones
        # write the same resolved config, so they train nothing)
        resolvable = runs if name == "no-embeddings" else retrain
        assert ran - {stage_name("resolve", scale, r) for r in resolvable} == (
            {stage_name(s, scale, r) for s in ("train", "evaluate") for r in retrain}
            | {f"{a}@{scale}" for a in ANALYSES}), (name, log[-3000:])
    store = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exps = [e.experiment_id for e in store.search_experiments() if e.name.startswith("cips-test-")]
    for name, retrain in queued.items():
        logged = store.search_runs(exps, filter_string=f"tags.DVC_EXP_NAME = '{name}'")
        assert sorted(r.info.run_name for r in logged) == sorted(retrain), name
        for r in logged:
            assert r.info.status == "FINISHED" and finite(r.data.metrics.get("fid")), (name, r.info.run_name)
            # checkpoints are not tracked, so a queued copy trains what it changes from step 0
            history = store.get_metric_history(r.info.run_id, "loss_d")
            assert history and min(m.step for m in history) <= params["train"]["steps"], (name, r.info.run_name)
            knob = ("model.embeddings", "False") if name == "no-embeddings" else ("train.patch", "4")
            assert r.data.params[knob[0]] == knob[1], (name, r.info.run_name, knob)
    # `dvc exp show` puts each experiment beside the baseline: other models, other FIDs
    shown = json.loads(sh(dvc + ["exp", "show", "--json"], repo, env).stdout)
    for run in ("fashion-cips", "fashion-patch-half"):
        fids = find_metric(shown, str(rel.metrics(run)), "fid")
        assert len(fids) >= 2 and len(set(fids)) >= 2, (run, fids)
    # DVC's own plot (dvc.yaml `plots:`) draws the experiment's learning curve beside the baseline's
    diff = json.loads(sh(dvc + ["plots", "diff", "HEAD", "no-embeddings", "--json"], repo, env).stdout)
    points = [v for v in diff["data"]["learning_curves"][0]["content"]["data"]["values"]
              if v["model"] == "fashion-cips"]
    curves = {rev: [(float(v["kimg"]), float(v["fid"])) for v in points if v["rev"] == rev]
              for rev in {v["rev"] for v in points}}
    assert len(curves) == 2 and all(len(c) == 2 for c in curves.values()), curves  # two revisions, two points each
    assert len({tuple(c) for c in curves.values()}) == 2, curves  # other weights, another curve
    # the experiment's models, as evaluation reads them: the runs that inherit the knob lose their embeddings
    sh(dvc + ["exp", "apply", "no-embeddings"], repo, env)
    for run in runs:
        c = torch.load(layout.generator(run), weights_only=True, map_location="cpu")
        if c["model"]["arch"] != "cips":
            continue
        has = any(k.startswith("embeddings.") for k in c["g_ema"])
        assert has == params["runs"][run].get("model", {}).get("embeddings", False), run

    # a misspelt key written into params.yaml stops the first stage that reads it, with our one line (last:
    # DVC deletes the outputs of the stage it starts)
    good = (repo / "params.yaml").read_text()
    misspelt = yaml.safe_load(good)
    misspelt["model"]["embedingz"] = False
    (repo / "params.yaml").write_text(yaml.safe_dump(misspelt, sort_keys=False))
    bad = sh(dvc + ["repro"], repo, env, check=False)
    ours = [line for line in (bad.stdout + bad.stderr).splitlines() if line.startswith("error: ")]
    assert bad.returncode != 0 and len(ours) == 1, bad.stdout[-2000:] + bad.stderr[-2000:]
    assert re.fullmatch(r"error: .*\bmodel\.embedingz: unknown key \(known: .*\)", ours[0]), ours


def test_cips_scale_switches_the_graph_between_the_papers_runs_and_the_demos(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    project_copy(repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    sh(["git", "init", "-q"], repo, env)
    dvc, cips = [sys.executable, "-m", "dvc"], str(Path(sys.executable).parent / "cips")

    def graph() -> set[str]:
        return set(sh(dvc + ["stage", "list", "--name-only"], repo, env).stdout.split())

    def expected(config: str) -> set[str]:
        return expected_stages(yaml.safe_load((REPO / "configs" / config).read_text()))

    sh([cips, "scale", "paper"], repo, env)
    paper = graph()
    assert paper == expected("paper.yaml") and "report@paper" in paper
    runs = {name.split("@")[1] for name in paper if name.startswith("train@")}
    assert runs and all(r.startswith(("paper-ffhq-", "paper-churches-", "paper-landscapes-", "paper-satellite-"))
                        for r in runs), runs
    sh([cips, "scale", "small"], repo, env)
    small = graph()
    assert small == expected("small.yaml") and "report@small" in small
    small_runs = yaml.safe_load((REPO / "configs/small.yaml").read_text())["runs"]
    assert {n for n in small if n.startswith("train@")} == {
        f"train@small-{run}-s{seed}" for run, spec in small_runs.items() for seed in spec["seeds"]}
    assert not small & paper
    sh([cips, "scale", "demo"], repo, env)
    assert (repo / "params.yaml").read_text() == scale_params("demo.yaml") == (REPO / "params.yaml").read_text()
    demo = graph()
    assert demo == expected("demo.yaml") and "train@fashion-cips" in demo and "report@demo" in demo
    assert not demo & paper and not demo & small


def test_demo_data_are_prepared_with_networking_disabled(tmp_path):
    # the e2e graph uses four of the demo's nine photographs: prepare the demo's own datasets too
    repo = tmp_path / "repo"
    repo.mkdir()
    project_copy(repo)
    (repo / "params.yaml").write_text(scale_params("demo.yaml"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    guarded, net_log = net_guard(tmp_path, env)
    datasets = yaml.safe_load((repo / "params.yaml").read_text())["datasets"]
    layout = project_layout(repo)
    assert layout.scale == "demo"
    for dataset in datasets:
        sh([sys.executable, "-m", "stages.prepare", dataset], repo, guarded)
        assert layout.lmdb(dataset).is_dir()
    notes = net_log.read_text().splitlines()
    assert not [n for n in notes if n.startswith("blocked")], notes
    assert sum(n.startswith("armed") and "stages.prepare" in n for n in notes) == len(datasets), notes
