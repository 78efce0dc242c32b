"""Exponential moving average of the generator, parametrised by a half-life in thousands of images."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch: int, halflife_kimg: float, seen_img: int, rampup: float | None = None,
             halflife_steps: float | None = None) -> float:
    """Decay per step: the EMA halves its memory every `halflife_kimg` thousand images (or, given
    `halflife_steps`, every that many steps whatever the batch, as the official CIPS code).

    With `rampup` (StyleGAN2-ADA), the half-life is at most `rampup` times the images seen so far, so the
    early, poor weights are forgotten quickly.
    """
    halflife = halflife_kimg * 1000.0 if halflife_steps is None else halflife_steps * batch
    if rampup is not None:
        halflife = min(halflife, seen_img * rampup)
    if halflife <= 0:
        return 0.0
    return 0.5 ** (batch / halflife)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
