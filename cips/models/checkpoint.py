"""Checkpoint files: one dict, written atomically, readable by every stage.

Every file holds ``format`` ("cips-repro/1"), ``model`` (the ModelConfig as a dict) and ``g_ema`` (state dict
of the evaluated generator); imported official checkpoints carry only these.
- A training checkpoint (runs/<run>/checkpoint.pt) adds ``g``, ``d``, ``g_opt``, ``d_opt``, ``step``,
  ``seen_img``, ``wall_time_s``, ``rng``, ``run`` (the run's config), ``signature`` (what resume compares,
  `cips.resolve.resume_signature`), ``curve``, ``curve_seconds``, ``scale``, ``mlflow_run_id``, ``dvc_exp_name``.
- A finished run's generator.pt adds ``step``, ``scale``, ``mlflow_run_id``, ``resolved`` (the train identity
  it was trained from, `cips.resolve.resolved_run`) and ``train_info`` (its train.json).
"""

from __future__ import annotations

import argparse
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cips.config import ModelConfig, from_dict
from cips.files import torch_save_atomic

FORMAT = "cips-repro/1"


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file beside `path`, fsync, then rename over it."""
    torch_save_atomic(obj, path)


class UnsafeCheckpointError(ValueError):
    """A checkpoint file that would run code when loaded (it pickles more than tensors and plain data)."""


# The official CIPS checkpoints store their argparse options beside the state dicts: plain data too.
_SAFE_GLOBALS = [argparse.Namespace]


def torch_load_data(path: str | Path, map_location: str | torch.device = "cpu", mmap: bool = False) -> Any:
    """torch.load a file from anywhere as data only (`weights_only=True`): tensors, numbers, strings,
    lists, dicts and argparse namespaces. A file that needs anything else is refused with one line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        with torch.serialization.safe_globals(_SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        found = re.search(r"(?:GLOBAL|global) ([\w.]+)", str(err))
        what = f"it pickles {found.group(1)}" if found else "it pickles more than tensors and plain data"
        raise UnsafeCheckpointError(f"{path}: refused to load: {what}, which would run code "
                                    "(checkpoints are read as data only)") from None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by this project, with a one-line error if it is not one."""
    path = Path(path)
    ckpt = torch_load_data(path, map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} checkpoint (official CIPS checkpoints: `cips import-official`)")
    return ckpt


def load_generator(path: str | Path, ema: bool = True, map_location: str | torch.device = "cpu",
                   embedding_sampling: str | None = None) -> nn.Module:
    """The (EMA) generator stored in a checkpoint, in eval mode; `embedding_sampling` (exact | official)
    overrides the recorded way a CIPS generator samples its coordinate embeddings."""
    from cips.models import build_generator

    ckpt = load_checkpoint(path, map_location)
    model = dict(ckpt["model"])
    if embedding_sampling is not None:
        if model.get("arch", "cips") != "cips":
            raise ValueError(f"{path}: --embedding-sampling applies to CIPS generators, this is {model['arch']}")
        model["embedding_sampling"] = embedding_sampling
    cfg = from_dict(ModelConfig, model, "model")
    g = build_generator(cfg)
    g.load_state_dict(ckpt["g_ema" if ema else "g"])
    return g.eval().requires_grad_(False)
