"""Train the scale's unfinished models several at a time, then record them in dvc.lock.

`dvc repro` runs one stage at a time, and one small-scale training uses 2 threads. On a 2-core CPU two
processes of one thread each train about 1.2x more images per second in all (`benchmarks/train_step.py
--params configs/small.yaml`), so `cips lanes --jobs 2` runs each unfinished model's own stage commands
(resolve, train, evaluate) in `jobs` lanes of cores/jobs threads, and `dvc commit`s each model's stages as soon
as its evaluate succeeds (what `dvc repro` would have recorded), so a machine that dies later loses no finished
model; a parked checkpoint of that model is released then. A lane that fails leaves its model unfinished (its log
says why). SIGTERM or Ctrl-C stops the lanes cleanly: no further model starts, the running trainings save their
checkpoints, and `park` stages the checkpoints of the unfinished ones for the next commit (in git, or in DVC
where a remote is set).

On GPUs, `--devices 0-7 --per-run 2` makes four lanes of two GPUs each: a lane's models see only its GPUs
(CUDA_VISIBLE_DEVICES) and train in that many processes (`stages.train --nproc`), so Table 3's six ablations
run side by side on one machine. Lanes rather than DVC's queue: the queue's workers share one device
setting, and its experiments are not the committed `dvc.lock` results that `dvc repro` reads.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cips.layout import Layout
from cips.resolve import resolved_run
from cips.scale import load_params

log = logging.getLogger(__name__)
STAGES = ("resolve", "train", "evaluate")
DVC = [sys.executable, "-m", "dvc"]  # this environment's DVC, also where its bin/ is not on PATH (CI)
STOPPED = 143  # the exit code of a model the lanes were stopped before or during (128 + SIGTERM)


def unfinished(params_path: str | Path = "params.yaml", root: str | Path = ".") -> list[str]:
    """The models of params.yaml whose generator.pt is missing or was trained from another config."""
    from cips.training.runner import finished_run

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    return [m for m in params.members()
            if finished_run(layout.generator(m), resolved_run(params, m)["train"]) is None]


def parse_devices(spec: str) -> list[str]:
    """GPU indices from "0-7", "0,2,5" or "0-3,6" (as CUDA_VISIBLE_DEVICES names them)."""
    devices: list[str] = []
    for part in spec.split(","):
        first, sep, last = part.strip().partition("-")
        if not first.isdigit() or (sep and not last.isdigit()) or (sep and int(last) < int(first)):
            raise ValueError(f"--devices {spec}: expected indices like 0-7 or 0,2,5, got {part!r}")
        devices += [str(i) for i in range(int(first), int(last if sep else first) + 1)]
    if len(set(devices)) != len(devices):
        raise ValueError(f"--devices {spec}: a device is named twice")
    return devices


def device_groups(devices: list[str], per_run: int) -> list[list[str]]:
    """The lanes' devices: consecutive groups of `per_run`."""
    if per_run < 1 or len(devices) % per_run:
        raise ValueError(f"--per-run {per_run}: the {len(devices)} devices do not split into groups of {per_run}")
    return [devices[i: i + per_run] for i in range(0, len(devices), per_run)]


def run_lanes(jobs: int = 2, params_path: str | Path = "params.yaml", root: str | Path = ".",
              models: list[str] | None = None, logs: str | Path | None = None, devices: list[str] | None = None,
              per_run: int = 1, stages: tuple[str, ...] = STAGES, track: bool = True,
              commit: bool = True, threads: int | None = None) -> dict[str, int]:
    """Run `stages` (resolve, train, evaluate) of `models` (default: the unfinished ones) `jobs` at a time, or,
    given GPU `devices`, one lane per group of `per_run` of them; returns each model's exit code, and `dvc
    commit`s each model's stages when they have succeeded (`commit`; `track`: MLflow). On CPU each lane gets `threads`
    threads (default: the cores over the lanes)."""
    params = load_params(params_path)
    models = unfinished(params_path, root) if models is None else models
    lanes: queue.Queue[list[str] | None] = queue.Queue()
    if devices:
        groups = device_groups(devices, per_run)
        jobs = len(groups)
        for group in groups:
            lanes.put(group)
        env = dict(os.environ)
    else:
        for _ in range(jobs):
            lanes.put(None)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = threads or max(1, cores // jobs)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    logs = Path(logs) if logs else Path(root) / "logs" / "lanes" / params.scale  # not under runs/: no stage reads it
    logs.mkdir(parents=True, exist_ok=True)
    stopping, running, guard, recording = threading.Event(), set(), threading.Lock(), threading.Lock()

    def stop(signum=None, frame=None) -> None:  # noqa: ARG001 - a signal handler's signature
        """No further model starts; the running stages get SIGTERM (training saves its checkpoint)."""
        stopping.set()
        with guard:
            for proc in running:
                proc.send_signal(signal.SIGTERM)

    def one(model: str) -> int:
        if stopping.is_set():
            return STOPPED
        group = lanes.get()
        if "train" in stages and unpark(model, params.scale, root):
            log.info("%s: continues from its parked checkpoint", model)
        lane_env = env if group is None else {**env, "CUDA_VISIBLE_DEVICES": ",".join(group)}
        try:
            with open(logs / f"{model}.log", "a") as out:
                for stage in stages:
                    cmd = [sys.executable, "-m", f"stages.{stage}", model, "--params", str(params_path),
                           "--root", str(root)]
                    if not track and stage != "resolve":
                        cmd.append("--no-track")
                    if stage == "train" and group is not None:
                        cmd += ["--nproc", str(len(group))]
                    with guard:
                        if stopping.is_set():
                            return STOPPED
                        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=lane_env)
                        running.add(proc)
                    code = proc.wait()
                    with guard:
                        running.discard(proc)
                    if code:
                        log.warning("%s: stage %s failed (exit %d); see %s", model, stage, code,
                                    logs / f"{model}.log")
                        return code
        finally:
            lanes.put(group)
        log.info("%s: finished%s", model, "" if group is None else f" on GPUs {','.join(group)}")
        if commit:
            with recording:  # one DVC command at a time: DVC locks the repository
                record(model, params.scale, stages, root)
        return 0

    each = f"{per_run} GPU(s)" if devices else f"{env['OMP_NUM_THREADS']} thread(s)"
    log.info("%d model(s), %d at a time with %s each: %s", len(models), jobs, each, ", ".join(models))
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with ThreadPoolExecutor(jobs) as pool:
            codes = dict(zip(models, pool.map(one, models), strict=True))
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if stopping.is_set() and commit:
        kept, _ = park(params_path, root)
        log.info("stopped: %d model(s) finished; checkpoints parked (commit parked/): %s",
                 sum(c == 0 for c in codes.values()), ", ".join(str(p) for p in kept) or "none")
    return codes


def record(model: str, scale: str, stages: tuple[str, ...] = STAGES, root: str | Path = ".") -> None:
    """`dvc commit` a finished model's stages into dvc.lock and release its parked checkpoint, so that git has
    all of it at the next commit."""
    from cips.plan import stage_key

    done = [f"{stage}@{stage_key(scale, model)}" for stage in stages]
    if subprocess.run([*DVC, "commit", "--force", *done], cwd=root, check=False).returncode:
        log.warning("%s: `dvc commit` failed; run `dvc commit --force %s`", model, " ".join(done))
        return
    release([parked(root, scale, model)], root)


def parked(root: str | Path, scale: str, model: str) -> Path:
    """Where `park` keeps a model's checkpoint: parked/<scale>/<model>.pt, outside runs/<scale>/ (whose hash the
    analyses and the report read, so a parked file must not change it)."""
    return Path(root) / "parked" / scale / f"{model}.pt"


def dvc_file(path: Path) -> Path:
    """The .dvc file that `dvc add` writes beside `path`."""
    return path.with_name(path.name + ".dvc")


def park_store(root: str | Path = ".") -> str:
    """Where parked checkpoints go: "dvc" when a DVC remote is set (a `dvc push` carries them to other machines),
    else "git": DVC's cache alone stays on the machine that trained, and a new machine would start from 0."""
    remotes = subprocess.run([*DVC, "remote", "list"], cwd=root, capture_output=True, text=True, check=False)
    return "dvc" if remotes.returncode == 0 and remotes.stdout.strip() else "git"


def park(params_path: str | Path = "params.yaml", root: str | Path = ".",
         store: str | None = None) -> tuple[list[Path], list[Path]]:
    """Keep unfinished runs resumable across sessions and machines: copy the checkpoint.pt of every model of the
    scale that has one but no finished generator.pt to parked/<scale>/<model>.pt and stage it for the next
    commit, in `store` (default `park_store`): "git" stages the file itself (6-9 MB at the small scale);
    "dvc" `dvc add`s and `dvc push`es it (git gets a small .dvc file, the remote the megabytes). Parked files
    of models that have finished since are released. `unpark` (which `run_lanes` calls) puts a parked
    checkpoint back, so training continues from its step, never from 0. Returns (parked, released)."""
    params = load_params(params_path)
    layout = Layout(root, params.scale)
    store = store or park_store(root)
    if store not in ("git", "dvc"):
        raise ValueError(f"park store {store!r}: expected git or dvc")
    todo = set(unfinished(params_path, root))
    models = [m for m in params.members() if m in todo and layout.checkpoint(m).is_file()]
    kept = [parked(root, params.scale, m) for m in models]
    released = release([parked(root, params.scale, m) for m in params.members() if m not in todo], root)
    for model, path in zip(models, kept, strict=True):
        if store == "git" and dvc_file(path).is_file():  # parked with DVC before: git takes it over
            release([path], root)
            gone = [dvc_file(path)] + [p for p in [path.parent / ".gitignore"] if not p.exists()]
            subprocess.run(["git", "rm", "--quiet", "--cached", "--ignore-unmatch", *map(str, gone)], cwd=root,
                           check=True)
        _copy_atomic(layout.checkpoint(model), path)
    if kept and store == "dvc":
        subprocess.run([*DVC, "add", "--quiet", *map(str, kept)], cwd=root, check=True)
        subprocess.run(["git", "add", *[str(dvc_file(p)) for p in kept], str(kept[0].parent / ".gitignore")],
                       cwd=root, check=True)
        if subprocess.run([*DVC, "push", "--quiet", *map(str, kept)], cwd=root, check=False).returncode:
            log.warning("`dvc push` of the parked checkpoints failed; push them before another machine continues")
    elif kept:
        subprocess.run(["git", "add", "--force", *map(str, kept)], cwd=root, check=True)
    return kept, released


def release(paths: list[Path], root: str | Path = ".") -> list[Path]:
    """Drop the parked checkpoints among `paths` (their models have finished) from DVC or from git; returns
    those released."""
    gone = []
    for path in paths:
        if dvc_file(path).is_file():
            subprocess.run([*DVC, "remove", "--quiet", str(dvc_file(path))], cwd=root, check=True)
        elif not path.is_file():
            continue
        elif _tracked(path, root):
            subprocess.run(["git", "rm", "--quiet", "--cached", str(path)], cwd=root, check=True)
        path.unlink(missing_ok=True)
        gone.append(path)
    return gone


def _tracked(path: Path, root: str | Path) -> bool:
    """Whether git's index holds `path`."""
    return subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=root, capture_output=True,
                          check=False).returncode == 0


def unpark(model: str, scale: str, root: str | Path = ".") -> Path | None:
    """Put `model`'s parked checkpoint in place when its run folder has none (a new clone, or after `dvc
    checkout` / `dvc pull`); returns the checkpoint restored, or None."""
    path, target = parked(root, scale, model), Layout(root, scale).checkpoint(model)
    if target.is_file() or not (path.is_file() or dvc_file(path).is_file()):
        return None
    if not path.is_file():
        subprocess.run([*DVC, "checkout", "--quiet", str(dvc_file(path))], cwd=root, check=True)
    _copy_atomic(path, target)
    return target


def _copy_atomic(src: Path, dst: Path) -> None:
    """Copy a checkpoint so that a stop mid-copy leaves the old file or none, never half of one."""
    import shutil

    from cips.files import atomic_write

    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, atomic_write(dst) as fout:
        shutil.copyfileobj(fin, fout)

