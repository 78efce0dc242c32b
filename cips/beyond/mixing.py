"""Fig. 19, layer-wise style mixing: the styles of latent A with those of latent B at some layers.

CIPS has one style per modulated layer (`num_ws`; an RGB projection shares its layer's). The layers are
split into three consecutive groups, early / middle / late (the paper's 1-2, 3-5, 6-8 of its
illustration); each mixed image takes A's styles everywhere except one group, which takes B's. Mixing needs
no training with mixing regularisation (the paper's models had none, nor have ours).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cips.beyond.render import CHUNK, latents, render, styles


def layer_groups(num_ws: int, parts: int = 3) -> list[tuple[int, int]]:
    """[(first, last)] 0-based inclusive bounds of `parts` consecutive groups of layers, early to late."""
    if num_ws < parts:
        raise ValueError(f"mixing: {num_ws} layers cannot form {parts} groups")
    return [(int(a[0]), int(a[-1])) for a in np.array_split(np.arange(num_ws), parts)]


def mix(ws_a: torch.Tensor, ws_b: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """ws_a (B, num_ws, D) with layers first..last (inclusive) taken from ws_b."""
    out = ws_a.clone()
    out[:, first:last + 1] = ws_b[:, first:last + 1]
    return out


@torch.no_grad()
def style_mixing(g: nn.Module, seeds_a: Sequence[int], seeds_b: Sequence[int], truncation: float = 1.0,
                 chunk: int | None = CHUNK) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """(rows, 2 + groups, 3, H, W): per row A, B, then A with B's late, middle and early layers (the paper's
    left-to-right order), and the groups' bounds (early to late)."""
    if len(seeds_a) != len(seeds_b) or not seeds_a:
        raise ValueError(f"mixing: as many sources A as B, at least one ({len(seeds_a)} and {len(seeds_b)})")
    ws_a = styles(g, latents(seeds_a, g.style_dim), truncation)
    ws_b = styles(g, latents(seeds_b, g.style_dim), truncation)
    groups = layer_groups(g.num_ws)
    columns = [ws_a, ws_b] + [mix(ws_a, ws_b, a, b) for a, b in reversed(groups)]
    images = [render(g, ws, None, chunk) for ws in columns]
    return torch.stack(images, 1), groups
