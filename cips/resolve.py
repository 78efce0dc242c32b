"""What identifies a run: the one definition that DVC, resume and the finished-run check share.

A run's identity is what its result is computed from: its dataset, the model keys its architecture reads and
the training keys that change the weights. Left out are keys that only operate a run (how often it logs or
saves, on which device) and keys of the other architecture or of patch training when the run has none.

- DVC: stage resolve@<run> writes the identity as runs/<run>/resolved/{train,eval}.json, the files train@ and
  evaluate@ depend on, so a knob re-runs only the runs whose identity it changes.
- Finished: a committed generator.pt stores the train identity it was trained from; while it matches, the
  run is not retrained (`cips.training.runner`).
- Resume: a checkpoint continues when it agrees on the train identity, less the keys a continuation may
  change (a longer train.steps, another learning-curve schedule).
"""

from __future__ import annotations

import json
from pathlib import Path

from cips.config import Params, RunConfig, flatten, to_dict
from cips.files import write_bytes_atomic
from cips.layout import Layout
from cips.scale import load_params

# Keys that change how a run is operated, not what it computes: editing them re-runs nothing, and a
# checkpoint stays resumable across them. Some change the float summation order (device, compile, the
# split of a batch over processes and passes), so results agree to float tolerance, not bit for bit.
OPERATIONAL_TRAIN_KEYS = ("checkpoint_every", "log_every", "sample_every", "workers", "device", "compile", "n_samples",
                          "nproc", "batch_gpu", "checkpoint_pixels")
# Keys a checkpoint may be continued across: a longer run continues a shorter one, and the learning curve
# measures the run without changing it. They are part of the identity (they change train.json's outputs).
CONTINUATION_TRAIN_KEYS = ("steps", "eval_every", "eval_n")
# Model keys one architecture ignores, left out of its identity so a knob of the other re-runs nothing
ARCH_ONLY_MODEL_KEYS = {
    "cips": ("width", "depth", "fourier", "embeddings", "residual", "skips", "activation", "coords",
             "panorama_width", "channels", "encoding_fill", "embedding_sampling"),
    "stylegan2": ("channel_base", "channel_max"),
}
PATCH_ONLY_TRAIN_KEYS = ("patch_sampling", "patch_sigma")
# Keys added after models were committed: left out of the identity while at their neutral value, so adding a
# knob re-runs nothing it does not change (set, they count like any other key)
NEUTRAL_TRAIN_KEYS = {"ema_halflife_steps": None}


def train_identity(run: RunConfig) -> dict:
    """{"dataset", "model", "train"}: what training run `run` computes its weights from."""
    other = "stylegan2" if run.model.arch == "cips" else "cips"
    model = {k: v for k, v in to_dict(run.model).items() if k not in ARCH_ONLY_MODEL_KEYS[other]}
    train = {k: v for k, v in to_dict(run.train).items() if k not in OPERATIONAL_TRAIN_KEYS
             and not (run.train.patch is None and k in PATCH_ONLY_TRAIN_KEYS)
             and not (k in NEUTRAL_TRAIN_KEYS and v == NEUTRAL_TRAIN_KEYS[k])}
    return {"dataset": run.dataset, "model": model, "train": train}


def resolved_run(params: Params, name: str) -> dict[str, dict]:
    """What run `name` computes from, split by stage: {"train": ..., "eval": ...}, each a plain mapping
    holding only the keys that change that stage's result (the files DVC hashes for train@ / evaluate@)."""
    run = params.run(name)
    return {
        "train": {"run": name, "scale": params.scale, **train_identity(run)},
        "eval": {"run": name, "scale": params.scale, "protocol": params.protocol, "dataset": run.dataset,
                 "eval": to_dict(run.eval)},
    }


def resume_signature(run: RunConfig) -> dict:
    """What a checkpoint must agree on to be continued: the flat train identity less the continuation keys."""
    skip = {f"train.{k}" for k in CONTINUATION_TRAIN_KEYS}
    return {k: v for k, v in flatten(train_identity(run)).items() if k not in skip}


def resume_mismatch(mine: dict, stored: dict) -> list[str]:
    """The keys of signature `mine` on which a checkpoint's `stored` signature differs. Keys only the stored
    one has are not the run's identity (another architecture's keys, or operational ones) and do not count."""
    return sorted(k for k in mine if k not in stored or stored[k] != mine[k])


def resolve_from_params(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".") -> list[Path]:
    """Write runs/<run>/resolved/{train,eval}.json (sorted keys, so equal configs give equal bytes)."""
    params = load_params(params_path)
    layout = Layout(root, params.scale)
    paths = []
    for part, data in resolved_run(params, run).items():
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        paths.append(write_bytes_atomic(text.encode(), layout.resolved(run, part)))
    return paths
