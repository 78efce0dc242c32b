"""Train the scale's unfinished models several at a time, then record them in dvc.lock.

`dvc repro` runs one stage at a time, and one small-scale training uses 2 threads. On a 2-core CPU two
processes of one thread each train about 1.2x more images per second in all (`benchmarks/train_step.py
--params configs/small.yaml`), so `cips lanes --jobs 2` runs each unfinished model's own stage commands
(resolve, train, evaluate) in `jobs` lanes of cores/jobs threads, and then `dvc commit`s the stages it ran,
which is what `dvc repro` would have recorded. A lane that fails leaves its model unfinished (its log says why).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cips.layout import Layout
from cips.resolve import resolved_run
from cips.scale import load_params

log = logging.getLogger(__name__)
STAGES = ("resolve", "train", "evaluate")


def unfinished(params_path: str | Path = "params.yaml", root: str | Path = ".") -> list[str]:
    """The models of params.yaml whose generator.pt is missing or was trained from another config."""
    from cips.training.runner import finished_run

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    return [m for m in params.members()
            if finished_run(layout.generator(m), resolved_run(params, m)["train"]) is None]


def run_lanes(jobs: int = 2, params_path: str | Path = "params.yaml", root: str | Path = ".",
              models: list[str] | None = None, logs: str | Path | None = None) -> dict[str, int]:
    """Resolve, train and evaluate `models` (default: the unfinished ones) `jobs` at a time; returns each
    model's exit code, and `dvc commit`s the stages of those that succeeded."""
    from cips.plan import stage_key

    params = load_params(params_path)
    models = unfinished(params_path, root) if models is None else models
    threads = max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    logs = Path(logs) if logs else Path(root) / "logs" / "lanes" / params.scale  # not under runs/: no stage reads it
    logs.mkdir(parents=True, exist_ok=True)

    def one(model: str) -> int:
        with open(logs / f"{model}.log", "a") as out:
            for stage in STAGES:
                cmd = [sys.executable, "-m", f"stages.{stage}", model, "--params", str(params_path),
                       "--root", str(root)]
                code = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
                if code:
                    log.warning("%s: stage %s failed (exit %d); see %s", model, stage, code, logs / f"{model}.log")
                    return code
        log.info("%s: finished", model)
        return 0

    log.info("%d model(s), %d at a time with %d thread(s) each: %s", len(models), jobs, threads, ", ".join(models))
    with ThreadPoolExecutor(jobs) as pool:
        codes = dict(zip(models, pool.map(one, models), strict=True))
    done = [f"{stage}@{stage_key(params.scale, m)}" for m, c in codes.items() if c == 0 for stage in STAGES]
    if done:
        subprocess.run(["dvc", "commit", "--force", *done], cwd=root, check=False)
    return codes
