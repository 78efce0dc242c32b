"""Checkpoint files: one dict, written atomically, readable by every stage.

Keys: ``format`` ("cips-repro/1"), ``model`` (the ModelConfig as a dict), ``g_ema`` (state dict of the
evaluated generator); training adds ``g``, ``d``, ``g_opt``, ``d_opt``, ``step``, ``rng``, ``run``
(the resolved run config), ``mlflow_run_id``. Imported official checkpoints carry the first three.
"""

from __future__ import annotations

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


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by this project, with a one-line error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} checkpoint (official CIPS checkpoints: `cips import-official`)")
    return ckpt


def load_generator(path: str | Path, ema: bool = True, map_location: str | torch.device = "cpu") -> nn.Module:
    """The (EMA) generator stored in a checkpoint, in eval mode."""
    from cips.models import build_generator

    ckpt = load_checkpoint(path, map_location)
    cfg = from_dict(ModelConfig, ckpt["model"], "model")
    g = build_generator(cfg)
    g.load_state_dict(ckpt["g_ema" if ema else "g"])
    return g.eval().requires_grad_(False)
