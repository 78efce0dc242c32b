"""The style interface both generators share: the mean style, per-layer styles and truncation.

A generator using `StyleMixin` has `mapping` (z -> w), `style_dim`, `num_ws` and a parameter or buffer to
read the device from; the mixin gives it `mean_w()` and `expand_ws()` (written once, checked once).
"""

from __future__ import annotations

import torch


class StyleMixin:
    """mean_w and expand_ws for a generator with `mapping`, `style_dim` and `num_ws`."""

    mapping: torch.nn.Module
    style_dim: int
    num_ws: int

    def _device(self) -> torch.device:
        return next(self.parameters()).device  # type: ignore[attr-defined]

    @torch.no_grad()
    def mean_w(self, n: int = 10000, seed: int = 0) -> torch.Tensor:
        """The mean style E[M(z)] estimated from `n` latents of a fixed seed, shape (style_dim,)."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.style_dim, generator=gen).to(self._device())
        return torch.cat([self.mapping(c) for c in z.split(4096)]).mean(0)

    def expand_ws(self, z: torch.Tensor | None = None, ws: torch.Tensor | None = None, truncation: float = 1.0,
                  truncation_w: torch.Tensor | None = None) -> torch.Tensor:
        """Per-layer styles (B, num_ws, style_dim) from latents z or given styles, truncated toward
        `truncation_w` (default: mean_w())."""
        if ws is None:
            if z is None:
                raise ValueError("give latents z or styles ws")
            ws = self.mapping(z)
        if ws.ndim == 2:
            ws = ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.style_dim):
            raise ValueError(f"ws must be (B, {self.style_dim}) or (B, {self.num_ws}, {self.style_dim}), "
                             f"got {tuple(ws.shape)}")
        if truncation != 1.0:
            center = self.mean_w() if truncation_w is None else truncation_w
            ws = center + truncation * (ws - center)
        return ws
