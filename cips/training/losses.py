"""GAN losses of StyleGAN2: non-saturating logistic loss and the R1 penalty on reals."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(D(fake)) + softplus(-D(real)), averaged over the batch."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(-D(G(z))), averaged over the batch."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d D(x) / d x||^2 at the reals (which must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


def lazy_adam_correction(lr: float, betas: list[float], every: int) -> tuple[float, tuple[float, float]]:
    """lr and betas of an optimizer whose regularizer runs every `every` steps (StyleGAN2, App. B)."""
    if every <= 0:
        return lr, (betas[0], betas[1])
    c = every / (every + 1)
    return lr * c, (betas[0] ** c, betas[1] ** c)
