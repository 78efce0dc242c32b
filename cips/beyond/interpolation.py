"""Fig. 10, latent interpolation between seeds: linear in the style w (the default), or spherical in z.

Rows are consecutive pairs of the given seeds; each row runs from the first latent (left) to the second
(right) in `steps` frames. `step_changes` is the mean |difference| of consecutive frames: a smooth morph has
no step far above the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from cips.beyond.render import CHUNK, device_of, latents, render

Mode = Literal["w", "slerp-z"]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of vectors a, b (D,) at fractions t (T,) -> (T, D); linear when parallel."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1, 1))
    t = t.view(-1, 1)
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def interpolate(g: nn.Module, seeds: Sequence[int], steps: int = 8, mode: Mode = "w", truncation: float = 1.0,
                chunk: int | None = CHUNK) -> torch.Tensor:
    """(pairs, steps, 3, H, W) frames between consecutive seeds (at least two seeds)."""
    if len(seeds) < 2:
        raise ValueError(f"interpolate: needs at least two seeds, got {list(seeds)}")
    if steps < 2:
        raise ValueError(f"interpolate: needs at least 2 steps, got {steps}")
    if mode not in ("w", "slerp-z"):
        raise ValueError(f"interpolate: mode {mode!r} is not 'w' or 'slerp-z'")
    z = latents(seeds, g.style_dim).to(device_of(g))
    t = torch.linspace(0, 1, steps, device=z.device)
    center = g.mean_w() if truncation != 1.0 else None
    rows = []
    for a, b in zip(z[:-1], z[1:], strict=True):
        if mode == "w":
            wa, wb = g.mapping(torch.stack([a, b]))
            w = (1 - t.view(-1, 1)) * wa + t.view(-1, 1) * wb
        else:
            w = g.mapping(slerp(a, b, t))
        ws = g.expand_ws(ws=w, truncation=truncation, truncation_w=center)
        rows.append(render(g, ws, None, chunk))
    return torch.stack(rows)


def step_changes(frames: torch.Tensor) -> np.ndarray:
    """(pairs, steps - 1): mean |difference| of consecutive frames, images in [0, 1]."""
    x = (frames.clamp(-1, 1) + 1) / 2
    return (x[:, 1:] - x[:, :-1]).abs().mean(dim=(2, 3, 4)).numpy()
