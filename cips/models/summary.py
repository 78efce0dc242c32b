"""Parameter counts and MACs of the paper-scale generators (Table 4), computed without allocating weights.

MACs are the multiply-accumulates of one generated 256x256 image: torch's FlopCounterMode over one forward
pass on the meta device (matrix products and convolutions; 2 FLOPs = 1 MAC; elementwise work not counted).
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn

from cips.config import ModelConfig
from cips.paper import TABLE4_LABELS, TABLE4_MODELS, TABLE4_PARAMS_M

# The paper-scale (256x256, width 512, 15 layers, 8-layer mapping) configurations of Table 4.
PAPER_CONFIGS: dict[str, ModelConfig] = {key: ModelConfig(**flags) for key, flags in TABLE4_MODELS.items()}
# The official code's CIPS-skips (channel_multiplier=2): its last two blocks narrowed to 256 and 128
OFFICIAL_CHANNELS = [512, 512, 512, 512, 512, 256, 128]


def build_on_meta(cfg: ModelConfig) -> nn.Module:
    """The generator with shapes only (no memory, no initialisation time)."""
    from cips.models import build_generator

    with torch.device("meta"):
        return build_generator(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Parameters per top-level submodule (mapping, fourier, embeddings, layers, to_rgbs, ...)."""
    parts: Counter[str] = Counter()
    for name, p in model.named_parameters():
        parts[name.split(".")[0]] += p.numel()
    return dict(parts)


def macs_per_image(model: nn.Module, style_dim: int) -> int:
    """Multiply-accumulates of one image of generator `model` (built on the meta device)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        z = torch.randn(1, style_dim)
    with FlopCounterMode(display=False) as counter:
        model(z)
    return counter.get_total_flops() // 2


def table4(official_widths: bool = False) -> list[dict]:
    """Rows of Table 4: model, ours (exact count and millions), published millions, difference, and the MACs
    per image; with `official_widths`, then the official code's narrowed CIPS-skips (not in the paper)."""
    rows = []
    extra = {"cips-official-widths": ModelConfig(channels=OFFICIAL_CHANNELS)} if official_widths else {}
    configs = {**PAPER_CONFIGS, **extra}
    for key, cfg in configs.items():
        model = build_on_meta(cfg)
        n = count_parameters(model)
        published = TABLE4_PARAMS_M.get(key)
        rows.append({
            "model": TABLE4_LABELS.get(key, "CIPS-Default, official widths (512 x 5, 256, 128)"), "key": key,
            "params": n, "params_m": round(n / 1e6, 2), "published_m": published,
            "difference_m": None if published is None else round(n / 1e6 - published, 3),
            "matches": None if published is None else abs(n / 1e6 - published) <= 0.1 and
            round(n / 1e6, 1) == published,
            "gmacs": round(macs_per_image(model, cfg.style_dim) / 1e9, 2),
            "breakdown": parameter_breakdown(model),
        })
    sg2 = next(r["gmacs"] for r in rows if r["key"] == "stylegan2")
    for r in rows:
        r["macs_vs_stylegan2"] = round(r["gmacs"] / sg2, 2)
    return rows
