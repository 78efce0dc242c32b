"""ModFC, the paper's modulated fully-connected layer, in its two fast exact forms.

    psi = B_hat phi + b,   B_hat_ij = s_j B_ij / sqrt(eps + sum_k (s_k B_ik)^2),   s = A(w)

Points are channels-last (B, N, C_in). Two equivalent ways to compute B_hat phi:

- ``bmm``: build each sample's modulated, demodulated weight (B, C_in, C_out) and apply it with one
  batched matmul over the sample's points. Nothing of size N is stored beyond the input, so peak
  memory is that of a plain linear layer.
- ``act``: modulate activations, run one large matmul over all points of all samples, demodulate
  the outputs: y = d * (W (x * s)). One big GEMM, but x * s and the pre-demodulation output are
  extra N-sized tensors kept for backward (about twice the memory).

``auto`` is ``bmm``: benchmarks/modfc.py found it faster than ``act`` at every shape measured on CPU
(32x32 demo widths to 256x256 at width 512), with about half the memory. ``act`` stays selectable.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from cips.models.layers import EqualLinear

ModFCImpl = Literal["auto", "bmm", "act"]

def choose_impl(impl: str, x: torch.Tensor) -> str:
    return "bmm" if impl == "auto" else impl


class ModFC(nn.Module):
    """Modulated fully-connected layer (no bias: the caller adds it inside the activation)."""

    def __init__(self, in_dim: int, out_dim: int, style_dim: int, demodulate: bool = True,
                 impl: ModFCImpl = "auto", eps: float = 1e-8) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.modulation = EqualLinear(style_dim, in_dim, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_dim)
        self.demodulate = demodulate
        self.impl = impl
        self.eps = eps

    def styles(self, w: torch.Tensor) -> torch.Tensor:
        """s = A(w), shape (B, C_in)."""
        return self.modulation(w)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x: (B, N, C_in) points; s: (B, C_in) styles from `styles(w)` -> (B, N, C_out)."""
        weight = self.weight * self.scale  # (C_out, C_in)
        if choose_impl(self.impl, x) == "act":
            b, n, c = x.shape
            y = (x * s.unsqueeze(1)).reshape(b * n, c) @ weight.t()
            y = y.view(b, n, -1)
            if self.demodulate:
                d = torch.rsqrt(s.square() @ weight.square().t() + self.eps)  # (B, C_out)
                y = y * d.unsqueeze(1)
            return y
        wt = weight.t().unsqueeze(0) * s.unsqueeze(2)  # (B, C_in, C_out)
        if self.demodulate:
            wt = wt * torch.rsqrt(wt.square().sum(1, keepdim=True) + self.eps)
        return torch.bmm(x, wt)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, demodulate={self.demodulate}, impl={self.impl}"


def modfc_reference(x: torch.Tensor, weight: torch.Tensor, s: torch.Tensor, demodulate: bool = True,
                    eps: float = 1e-8) -> torch.Tensor:
    """The paper's formula written out: per-sample weight B_hat (B, C_out, C_in), then B_hat phi.

    `weight` is the effective (already scaled) weight. Used by tests as the ground truth.
    """
    w_hat = weight.unsqueeze(0) * s.unsqueeze(1)
    if demodulate:
        w_hat = w_hat / torch.sqrt(eps + w_hat.square().sum(2, keepdim=True))
    return torch.einsum("boi,bni->bno", w_hat, x)
