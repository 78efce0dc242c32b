"""The CIPS generator: every pixel is synthesized from its coordinates and the style alone.

One class; the ablations of the paper's Table 3 are constructor flags and nothing else:

    config       fourier  embeddings  residual  skips  activation
    base            +         +          -        -     lrelu
    NE              +         -          -        -     lrelu
    No Fourier      -         +          -        -     lrelu
    Main            +         +          -        +     lrelu      (the default)
    Residual        +         +          +        -     lrelu
    Sine            -         +          -        -     sine

Layer plan for `depth` D (the paper's 15): the first modulated layer maps the positional encoding
(2 * width wide) to the hidden width; with skips, D - 1 further layers follow and an RGB projection
is taken after every second one and summed (the official CIPSskip); without skips, D - 2 further
layers and one RGB output layer (so both plans have D fully-connected layers on the main path).
With `residual`, as the official CIPSres: the first layer, (D - 1) / 2 residual blocks of two layers,
out = (f(x) + x) / sqrt(2), then one RGB layer.

When one encoding is switched off (`encoding_fill`): "zeros" (default) keeps the first layer's
2 * width input and feeds zeros in the switched-off encoding's channels; "widen" lets the other
encoding fill the whole width. Both give CIPS-NE the 10.2 M parameters of the paper's Table 4.

`embedding_sampling`: "exact" (default) reads the stored vectors at grid nodes and interpolates
bilinearly between them; "official" renders as the official code does: the stored table while
training on the full grid, otherwise `grid_sample(align_corners=False)`, which on the training grid
itself shifts each node by an offset that grows from zero at the centre towards half a pixel at the edges,
mixing neighbours bilinearly (the path of the released checkpoints' images and the paper's FIDs).
"""

from __future__ import annotations

import inspect
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from cips import coords as coordsets
from cips.config import ModelConfig
from cips.models.layers import SQRT2, EqualLinear, MappingNetwork, NoiseGenerator, bias_leaky_relu, randn_noise
from cips.models.modfc import ModFC, ModFCImpl
from cips.models.styles import StyleMixin

NoiseMode = Literal["random", "zero"]


class FourierFeatures(nn.Module):
    """e_fo = sin(B_fo x + b): learnable frequencies (and phases) of the input coordinates."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        # wide uniform frequencies so the initial features already span many scales
        bound = math.sqrt(9.0 / in_dim)
        self.weight = nn.Parameter(torch.empty(dim, in_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(dim).uniform_(-1 / math.sqrt(in_dim), 1 / math.sqrt(in_dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(F.linear(x, self.weight, self.bias))


class CoordinateEmbedding(nn.Module):
    """e_co: a learnable vector per pixel of the training grid, sampled bilinearly between nodes.

    Grid nodes map exactly to the stored vectors (the align-corners convention of the coordinates).
    On a cylinder the x axis wraps around with period `width`.
    """

    def __init__(self, height: int, width: int, dim: int, periodic_x: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(height, width, dim))
        self.periodic_x = periodic_x

    @property
    def height(self) -> int:
        return self.weight.shape[0]

    @property
    def width(self) -> int:
        return self.weight.shape[1]

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points (B, N, 2) in coordinate units -> (B, N, dim)."""
        h, w, c = self.weight.shape
        table = self.weight.reshape(h * w, c)
        if self.periodic_x:
            px = (points[..., 0] + 1) * (w / 2)
        else:
            px = ((points[..., 0] + 1) * ((w - 1) / 2)).clamp(0, w - 1)
        py = ((points[..., 1] + 1) * ((h - 1) / 2)).clamp(0, h - 1)
        # land exactly on a node when within float error of it, so nodes return the stored vectors
        px = torch.where((px - px.round()).abs() < 1e-4, px.round(), px)
        py = torch.where((py - py.round()).abs() < 1e-4, py.round(), py)
        x0, y0 = px.floor(), py.floor()
        fx, fy = (px - x0).unsqueeze(-1), (py - y0).unsqueeze(-1)
        x0, y0 = x0.long(), y0.long()
        if self.periodic_x:
            x0 = x0 % w
            x1 = (x0 + 1) % w
        else:
            x1 = (x0 + 1).clamp(max=w - 1)
        y1 = (y0 + 1).clamp(max=h - 1)

        def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
            return F.embedding(yy * w + xx, table)

        top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
        bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
        return top * (1 - fy) + bottom * fy

    def sample_official(self, points: torch.Tensor) -> torch.Tensor:
        """The official generator's lookup outside full-grid training: bilinear `grid_sample` with
        align_corners=False and border padding, (B, N, 2) -> (B, N, dim)."""
        b = points.shape[0]
        table = self.weight.permute(2, 0, 1).unsqueeze(0).expand(b, -1, -1, -1)
        out = F.grid_sample(table, points.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False)
        return out.squeeze(2).transpose(1, 2)


class StyledLayer(nn.Module):
    """ModFC -> per-point noise -> bias -> activation (leaky ReLU * sqrt 2, or sine)."""

    def __init__(self, in_dim: int, out_dim: int, style_dim: int, activation: str = "lrelu",
                 noise: bool = True, impl: ModFCImpl = "auto") -> None:
        super().__init__()
        self.fc = ModFC(in_dim, out_dim, style_dim, demodulate=True, impl=impl)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.noise_strength = nn.Parameter(torch.zeros(())) if noise else None
        self.activation = activation

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        y = self.fc(x, self.fc.styles(w))
        if self.noise_strength is None:
            noise = None
        if self.activation == "sine":
            if noise is not None:
                y = y + noise * self.noise_strength
            return torch.sin(y + self.bias)
        return bias_leaky_relu(y, self.bias, noise=noise, strength=self.noise_strength)


class ToRGB(nn.Module):
    """Projection to RGB: a modulated FC layer without demodulation, plus a bias."""

    def __init__(self, in_dim: int, style_dim: int, impl: ModFCImpl = "auto") -> None:
        super().__init__()
        self.fc = ModFC(in_dim, 3, style_dim, demodulate=False, impl=impl)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.fc(x, self.fc.styles(w)) + self.bias


class CIPSGenerator(StyleMixin, nn.Module):
    """G(x, y; z): the conditionally-independent pixel synthesis generator (see the module doc)."""

    def __init__(self, size: int = 256, width: int = 512, depth: int = 15, style_dim: int = 512,
                 n_mlp: int = 8, lr_mlp: float = 0.01, fourier: bool = True, embeddings: bool = True,
                 residual: bool = False, skips: bool = True, activation: str = "lrelu", noise: bool = True,
                 coords: str = "cartesian", panorama_width: int | None = None,
                 channels: list[int] | None = None, modfc: ModFCImpl = "auto",
                 encoding_fill: str = "zeros", embedding_sampling: str = "exact") -> None:
        super().__init__()
        if not (fourier or embeddings):
            raise ValueError("CIPSGenerator needs at least one positional encoding (fourier or embeddings)")
        if activation not in ("lrelu", "sine"):
            raise ValueError(f"activation must be 'lrelu' or 'sine', got {activation!r}")
        if coords == "cylindrical" and not panorama_width:
            raise ValueError("a cylindrical CIPSGenerator needs panorama_width")
        if encoding_fill not in ("zeros", "widen"):
            raise ValueError(f"encoding_fill must be 'zeros' or 'widen', got {encoding_fill!r}")
        if residual and not skips and (depth - 1) % 2:
            raise ValueError(f"a residual CIPSGenerator needs an odd depth (first layer + blocks of two), got {depth}")
        self.size, self.style_dim, self.width, self.depth = size, style_dim, width, depth
        self.skips, self.residual, self.coord_system = skips, residual, coords
        self.panorama_width = panorama_width
        # the constructor's arguments, as given (ModelConfig's fields of the same names)
        self.hparams = {k: v for k, v in locals().items() if k in inspect.signature(CIPSGenerator).parameters}
        self.embedding_sampling = embedding_sampling
        # training only (train.checkpoint_pixels): the per-pixel MLP runs in chunks of this many points whose
        # activations are recomputed in backward instead of kept (pixels are independent, so chunks are exact)
        self.checkpoint_chunk: int | None = None
        widen = encoding_fill == "widen"
        fourier_dim = (2 * width if widen and not embeddings else width) if fourier else 0
        embedding_dim = (2 * width if widen and not fourier else width) if embeddings else 0
        # zeros: the switched-off encoding's channels, fed as zeros so the first layer stays 2 * width wide
        self.zero_fill = {"fourier": 0 if (fourier or widen) else width,
                          "embeddings": 0 if (embeddings or widen) else width}
        coord_dim = 3 if coords == "cylindrical" else 2
        self.fourier = FourierFeatures(coord_dim, fourier_dim) if fourier else None
        self.embeddings = (CoordinateEmbedding(size, panorama_width or size, embedding_dim,
                                               periodic_x=coords == "cylindrical") if embeddings else None)

        n_hidden = depth - 1 if (skips or residual) else depth - 2
        n_blocks = math.ceil(n_hidden / 2)
        if channels is None:
            channels = [width] * n_blocks
        if len(channels) != n_blocks:
            raise ValueError(f"channels lists {len(channels)} block widths, the layer plan has {n_blocks}")
        self.mapping = MappingNetwork(style_dim, n_mlp, lr_mlp)
        in_dim = fourier_dim + embedding_dim + sum(self.zero_fill.values())
        self.layers = nn.ModuleList([StyledLayer(in_dim, channels[0], style_dim,
                                                 activation, noise, modfc)])
        self.to_rgbs = nn.ModuleDict()  # keyed by the index of the layer it follows
        self.shortcuts = nn.ModuleDict()  # residual projections where a block changes width
        dim = channels[0]
        for j in range(n_hidden):
            out = channels[j // 2]
            if residual and j % 2 == 0 and j + 1 < n_hidden and out != dim:
                self.shortcuts[str(j + 1)] = EqualLinear(dim, out, bias=False)
            self.layers.append(StyledLayer(dim, out, style_dim, activation, noise, modfc))
            dim = out
            if skips and (j % 2 == 1 or j == n_hidden - 1):
                self.to_rgbs[str(j + 1)] = ToRGB(dim, style_dim, modfc)
        if not skips:
            self.to_rgbs[str(n_hidden)] = ToRGB(dim, style_dim, modfc)
        self.register_buffer("grid", coordsets.grid(size), persistent=False)

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> CIPSGenerator:
        """Every constructor argument from the ModelConfig field of the same name."""
        return cls(**{name: getattr(cfg, name) for name in inspect.signature(cls).parameters})

    # ---------------------------------------------------------------- styles

    @property
    def num_ws(self) -> int:
        """Number of per-layer styles (one per modulated layer; an RGB projection shares its layer's)."""
        return len(self.layers)

    def set_modfc_impl(self, impl: ModFCImpl) -> None:
        for m in self.modules():
            if isinstance(m, ModFC):
                m.impl = impl

    # ---------------------------------------------------------------- coordinates and encodings

    def _points(self, coords: torch.Tensor | None, batch: int) -> tuple[torch.Tensor | None, tuple[int, ...]]:
        """Coordinates as (B, N, 2) points (None for the training grid) and the output layout."""
        if coords is None:
            return None, ("grid", batch, self.size, self.size)
        if coords.ndim == 4 and coords.shape[1] == 2:
            b, _, h, w = coords.shape
            return coords.permute(0, 2, 3, 1).reshape(b, h * w, 2), ("grid", b, h, w)
        if coords.ndim == 3 and coords.shape[2] == 2:
            return coords, ("points", coords.shape[0], coords.shape[1])
        raise ValueError(f"coords must be (B, 2, H, W) or (B, N, 2), got {tuple(coords.shape)}")

    def _fourier_input(self, points: torch.Tensor) -> torch.Tensor:
        if self.coord_system == "cylindrical":
            theta = (points[..., 0] + 1) * math.pi
            return torch.stack([torch.cos(theta), torch.sin(theta), points[..., 1]], dim=-1)
        return points

    def encodings(self, coords: torch.Tensor | None = None, batch: int = 1) -> dict[str, torch.Tensor | None]:
        """The two positional encodings at the given coordinates (default: the training grid), each
        (B, N, C) or None where the variant lacks it."""
        points, _ = self._points(coords, batch)
        if points is None:
            points = self.grid.permute(0, 2, 3, 1).reshape(1, -1, 2).expand(batch, -1, -1)
        out: dict[str, torch.Tensor | None] = {"fourier": None, "embeddings": None}
        if self.fourier is not None:
            out["fourier"] = self.fourier(self._fourier_input(points))
        if self.embeddings is not None:
            if self.embedding_sampling == "official" and not (self.training and coords is None):
                out["embeddings"] = self.embeddings.sample_official(points)
            elif coords is None and self.coord_system == "cartesian":  # the training grid: the table itself
                out["embeddings"] = self.embeddings.weight.reshape(1, -1, self.embeddings.weight.shape[-1]).expand(
                    batch, -1, -1)
            else:
                out["embeddings"] = self.embeddings(points)
        return out

    def _encode(self, points: torch.Tensor | None, batch: int, zero_fourier: bool,
                zero_embeddings: bool) -> torch.Tensor:
        if points is None:
            enc = self.encodings(None, batch)
        else:
            enc = self.encodings(points, batch)
        parts = []
        for name, zero in (("fourier", zero_fourier), ("embeddings", zero_embeddings)):
            e = enc[name]
            if e is not None:
                parts.append(torch.zeros_like(e) if zero else e)
            elif self.zero_fill[name]:
                ref = next(v for v in enc.values() if v is not None)
                parts.append(ref.new_zeros(*ref.shape[:-1], self.zero_fill[name]))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    # ---------------------------------------------------------------- synthesis

    def _render(self, ws: torch.Tensor, points: torch.Tensor, noise: list[torch.Tensor | None], zero_fourier: bool,
                zero_embeddings: bool) -> torch.Tensor:
        return self.synthesize(ws, self._encode(points, ws.shape[0], zero_fourier, zero_embeddings), noise)

    def synthesize(self, ws: torch.Tensor, x: torch.Tensor, noise: list[torch.Tensor | None]) -> torch.Tensor:
        """The per-point MLP: encodings x (B, N, C) and styles ws (B, num_ws, D) -> RGB (B, N, 3)."""
        rgb = None
        x = self.layers[0](x, ws[:, 0], noise[0])
        block_input = x
        for i in range(1, len(self.layers)):
            if self.residual and i % 2 == 1:
                block_input = x
            x = self.layers[i](x, ws[:, i], noise[i])
            if self.residual and i % 2 == 0:
                shortcut = self.shortcuts[str(i - 1)](block_input) if str(i - 1) in self.shortcuts else block_input
                x = (x + shortcut) * (1 / SQRT2)
            key = str(i)
            if key in self.to_rgbs:
                out = self.to_rgbs[key](x, ws[:, i])
                rgb = out if rgb is None else rgb + out
        if rgb is None:  # depth 2 without skips: the RGB layer follows the first layer
            rgb = self.to_rgbs["0"](x, ws[:, 0])
        return rgb

    def forward(self, z: torch.Tensor | None = None, *, ws: torch.Tensor | None = None, truncation: float = 1.0,
                truncation_w: torch.Tensor | None = None, noise_mode: NoiseMode = "random",
                coords: torch.Tensor | None = None, zero_fourier: bool = False, zero_embeddings: bool = False,
                chunk: int | None = None, noise_generator: NoiseGenerator = None) -> torch.Tensor:
        """Images (B, 3, H, W) for grids (default: the training grid), or (B, N, 3) for point sets.

        `chunk` bounds memory at inference: at most that many points per sample go through the network at
        once. Per-point noise is drawn for the whole set first, so chunked and unchunked outputs are equal.
        """
        ws = self.expand_ws(z, ws, truncation, truncation_w)
        batch = ws.shape[0]
        points, layout = self._points(coords, batch)
        n = self.size * self.size if points is None else points.shape[1]
        noise: list[torch.Tensor | None] = [None] * len(self.layers)
        if noise_mode == "random":
            noise = [None if layer.noise_strength is None else
                     randn_noise((batch, n, 1), noise_generator, ws.device, ws.dtype)
                     for layer in self.layers]
        elif noise_mode != "zero":
            raise ValueError(f"noise_mode must be 'random' or 'zero', got {noise_mode!r}")

        recompute = self.checkpoint_chunk if torch.is_grad_enabled() else None
        if recompute and recompute < n:  # training: each chunk's activations are recomputed in backward
            from torch.utils.checkpoint import checkpoint

            if points is None:
                points = self.grid.permute(0, 2, 3, 1).reshape(1, -1, 2).expand(batch, -1, -1)
            pieces = []
            for start in range(0, n, recompute):
                sl = slice(start, start + recompute)
                part = [None if e is None else e[:, sl] for e in noise]
                pieces.append(checkpoint(self._render, ws, points[:, sl], part, zero_fourier, zero_embeddings,
                                         use_reentrant=False))
            rgb = torch.cat(pieces, dim=1)
        elif chunk is None or chunk >= n:
            x = self._encode(points, batch, zero_fourier, zero_embeddings)
            rgb = self.synthesize(ws, x, noise)
        else:
            if points is None:
                points = self.grid.permute(0, 2, 3, 1).reshape(1, -1, 2).expand(batch, -1, -1)
            pieces = []
            for start in range(0, n, chunk):
                sl = slice(start, start + chunk)
                x = self._encode(points[:, sl], batch, zero_fourier, zero_embeddings)
                pieces.append(self.synthesize(ws, x, [None if e is None else e[:, sl] for e in noise]))
            rgb = torch.cat(pieces, dim=1)

        if layout[0] == "points":
            return rgb
        _, b, h, w = layout
        return rgb.transpose(1, 2).reshape(b, 3, h, w)
