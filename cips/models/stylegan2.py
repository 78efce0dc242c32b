"""The StyleGAN2 generator (config F), the convolutional baseline of the paper's Table 1.

Mapping network -> learned 4x4 constant -> per resolution two modulated 3x3 convolutions (the first
upsamples 2x: transposed convolution then the [1, 3, 3, 1] blur) with per-pixel noise, bias and
leaky ReLU, and an RGB projection whose outputs are upsampled and summed (skip architecture).
Channels at resolution r are min(channel_base // r, channel_max): the defaults give the official
256x256 layout (channel multiplier 2) with 30.03 M parameters (the paper's Table 4: 30.0 M).
Trained without style mixing and path-length regularisation, as in the paper; the network itself
accepts per-layer styles for style mixing at inference.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from cips.config import ModelConfig
from cips.models.layers import (
    EqualLinear,
    MappingNetwork,
    NoiseGenerator,
    bias_leaky_relu,
    blur2d,
    fir_kernel,
    randn_noise,
    upsample2d,
)
from cips.models.styles import StyleMixin

NoiseMode = Literal["random", "zero"]
ModConvImpl = Literal["auto", "grouped", "act"]
# ModelConfig.modfc (named for the CIPS layer) -> the form of the modulated convolution
MODFC_TO_MODCONV: dict[str, ModConvImpl] = {"auto": "auto", "act": "act", "conv": "grouped", "bmm": "grouped"}


def stylegan2_channels(resolution: int, channel_base: int = 32768, channel_max: int = 512) -> int:
    """Feature maps at `resolution`: min(channel_base // resolution, channel_max)."""
    return min(channel_base // resolution, channel_max)


# CPU thresholds on output pixels per input channel above which the grouped form was faster
# (benchmarks/stylegan2.py, 2 cores: 5-30 % faster at 128x128 and 256x256, and it stores no modulated copy of
# the activations; below them the activation form wins by up to 30x at 4x4).
GROUPED_MIN_PIXELS_PER_CHANNEL_CPU = {"conv": 64, "up": 256}


def choose_modconv_impl(impl: str, x: torch.Tensor, in_channels: int, up: bool) -> str:
    """The modulated-convolution form to use for input x (B, C_in, H, W) (see ModulatedConv2d)."""
    if impl != "auto":
        return impl
    if x.device.type != "cpu":
        # not measured here: StyleGAN2-ADA's choice (activation form for training, grouped otherwise)
        return "act" if torch.is_grad_enabled() else "grouped"
    out_pixels = x.shape[2] * x.shape[3] * (4 if up else 1)
    threshold = GROUPED_MIN_PIXELS_PER_CHANNEL_CPU["up" if up else "conv"]
    return "grouped" if out_pixels >= threshold * in_channels else "act"


class ModulatedConv2d(nn.Module):
    """Convolution with per-sample weights w'_oik = s_i w_oik, demodulated by 1/sqrt(sum_ik w'_oik^2 + eps).

    Two exact forms (a per-sample scale of input channels and of output channels commutes with the
    convolution):
    - ``grouped``: build the (B, C_out, C_in, k, k) weights and run one convolution with groups=B
      (the official StyleGAN2 trick);
    - ``act``: scale the input by s, run one plain convolution with the shared weight, scale the
      output by the demodulation coefficients (computed from s^2 and the squared weight).
    With ``up`` the convolution is transposed with stride 2 and followed by the [1, 3, 3, 1] blur.
    No bias: the caller adds it inside the activation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, up: bool = False, impl: ModConvImpl = "auto",
                 eps: float = 1e-8) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = 0 if up else kernel_size // 2
        self.demodulate, self.up, self.impl, self.eps = demodulate, up, impl, eps
        if up:
            self.register_buffer("fir", fir_kernel(), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x (B, C_in, H, W), style w (B, style_dim) -> (B, C_out, H', W'), H' = 2H with `up`."""
        s = self.modulation(w)
        weight = self.weight * self.scale
        if choose_modconv_impl(self.impl, x, self.weight.shape[1], self.up) == "act":
            y = self._conv(x * s[:, :, None, None], weight.transpose(0, 1) if self.up else weight, groups=1)
            if self.demodulate:
                d = torch.rsqrt(s.square() @ weight.square().sum((2, 3)).t() + self.eps)  # (B, C_out)
                y = y * d[:, :, None, None]
        else:
            b, c_in, h, wd = x.shape
            wb = weight.unsqueeze(0) * s[:, None, :, None, None]  # (B, C_out, C_in, k, k)
            if self.demodulate:
                wb = wb * torch.rsqrt(wb.square().sum((2, 3, 4), keepdim=True) + self.eps)
            if self.up:
                wb = wb.transpose(1, 2)  # conv_transpose2d weights are (C_in, C_out / groups, k, k)
            y = self._conv(x.reshape(1, b * c_in, h, wd), wb.reshape(-1, *wb.shape[2:]), groups=b)
            y = y.reshape(b, -1, *y.shape[2:])
        if self.up:
            y = blur2d(y, self.fir, padding=1, gain=4.0)  # (2H + 1) -> 2H, gain 4 for zero insertion
        return y

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
        """weight in the layout of the op: (C_out, C_in / g, k, k), or (C_in, C_out / g, k, k) with `up`."""
        if self.up:
            return F.conv_transpose2d(x, weight, stride=2, groups=groups)
        return F.conv2d(x, weight, padding=self.padding, groups=groups)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, demodulate={self.demodulate}, up={self.up}, impl={self.impl}"


def modulated_conv2d_reference(x: torch.Tensor, weight: torch.Tensor, s: torch.Tensor,
                               demodulate: bool = True, up: bool = False, eps: float = 1e-8) -> torch.Tensor:
    """The definition written out, one sample at a time (ground truth for tests).

    `weight` is the effective (already scaled) weight (C_out, C_in, k, k), `s` the styles (B, C_in).
    """
    out = []
    for b in range(x.shape[0]):
        wb = weight * s[b][None, :, None, None]
        if demodulate:
            wb = wb / torch.sqrt(wb.square().sum((1, 2, 3), keepdim=True) + eps)
        if up:
            y = F.conv_transpose2d(x[b:b + 1], wb.transpose(0, 1), stride=2)
            y = blur2d(y, fir_kernel().to(x), padding=1, gain=4.0)
        else:
            y = F.conv2d(x[b:b + 1], wb, padding=weight.shape[-1] // 2)
        out.append(y)
    return torch.cat(out)


class StyledConv(nn.Module):
    """Modulated 3x3 convolution -> per-pixel noise -> bias -> leaky ReLU (* sqrt 2)."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, up: bool = False,
                 noise: bool = True, impl: ModConvImpl = "auto") -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, up=up, impl=impl)
        self.noise_strength = nn.Parameter(torch.zeros(())) if noise else None
        self.bias = nn.Parameter(torch.zeros(out_channels, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode = "random",
                noise_generator: NoiseGenerator = None) -> torch.Tensor:
        y = self.conv(x, w)
        if self.noise_strength is not None and noise_mode == "random":
            b, _, h, wd = y.shape
            noise = randn_noise((b, 1, h, wd), noise_generator, y.device, y.dtype)
            y = torch.addcmul(y, noise, self.noise_strength)
        return bias_leaky_relu(y, self.bias)


class ToRGB(nn.Module):
    """Modulated 1x1 projection to RGB without demodulation, plus a bias."""

    def __init__(self, in_channels: int, style_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, in_channels))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels)
        self.bias = nn.Parameter(torch.zeros(3, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        b, c, h, wd = x.shape
        # per-sample (3, C) weights and one batched matmul: no modulated copy of x is made
        wb = (self.weight * self.scale).unsqueeze(0) * self.modulation(w).unsqueeze(1)
        return torch.baddbmm(self.bias, wb, x.reshape(b, c, h * wd)).reshape(b, 3, h, wd)


class LearnedConstant(nn.Module):
    """The synthesis network's input: one learned (C, 4, 4) tensor shared by all samples."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.weight.expand(batch, -1, -1, -1)


class SynthesisBlock(nn.Module):
    """One resolution step: upsampling styled conv, styled conv, RGB added to the upsampled skip."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, noise: bool = True,
                 impl: ModConvImpl = "auto") -> None:
        super().__init__()
        self.conv0 = StyledConv(in_channels, out_channels, style_dim, up=True, noise=noise, impl=impl)
        self.conv1 = StyledConv(out_channels, out_channels, style_dim, noise=noise, impl=impl)
        self.to_rgb = ToRGB(out_channels, style_dim)
        self.register_buffer("fir", fir_kernel(), persistent=False)

    def forward(self, x: torch.Tensor, rgb: torch.Tensor, ws: torch.Tensor, noise_mode: NoiseMode = "random",
                noise_generator: NoiseGenerator = None) -> tuple[torch.Tensor, torch.Tensor]:
        """ws: the block's three styles (B, 3, D): conv0, conv1, RGB."""
        x = self.conv0(x, ws[:, 0], noise_mode, noise_generator)
        x = self.conv1(x, ws[:, 1], noise_mode, noise_generator)
        rgb = upsample2d(rgb, self.fir) + self.to_rgb(x, ws[:, 2])
        return x, rgb


class StyleGAN2Generator(StyleMixin, nn.Module):
    """StyleGAN2 config-F generator with the interface of the CIPS generator (see the module doc).

    Styles: num_ws = 2 log2(size) - 2; the 4x4 convolution uses ws[:, 0] and its RGB projection
    ws[:, 1]; the block at each further resolution uses ws[:, i], ws[:, i + 1], ws[:, i + 2] for
    i = 1, 3, 5, ... (an RGB projection shares its style with the next block's first convolution).
    """

    def __init__(self, size: int = 256, style_dim: int = 512, n_mlp: int = 8, lr_mlp: float = 0.01,
                 channel_base: int = 32768, channel_max: int = 512, noise: bool = True,
                 impl: ModConvImpl = "auto") -> None:
        super().__init__()
        if size < 4 or size & (size - 1):
            raise ValueError(f"StyleGAN2Generator size must be a power of two >= 4, got {size}")
        self.size, self.style_dim = size, style_dim
        self.hparams = dict(size=size, style_dim=style_dim, n_mlp=n_mlp, lr_mlp=lr_mlp,
                            channel_base=channel_base, channel_max=channel_max, noise=noise, impl=impl)

        def ch(r: int) -> int:
            return stylegan2_channels(r, channel_base, channel_max)

        self.mapping = MappingNetwork(style_dim, n_mlp, lr_mlp)
        self.const = LearnedConstant(ch(4))
        self.conv = StyledConv(ch(4), ch(4), style_dim, noise=noise, impl=impl)
        self.to_rgb = ToRGB(ch(4), style_dim)
        self.blocks = nn.ModuleList(
            SynthesisBlock(ch(r // 2), ch(r), style_dim, noise=noise, impl=impl)
            for r in (2 ** k for k in range(3, int(math.log2(size)) + 1))
        )

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> StyleGAN2Generator:
        """`cfg.modfc` picks the modulation form: "act" modulates activations, "conv" and "bmm" (the
        per-sample-weight forms of the CIPS layer) select the grouped convolution, "auto" decides
        per shape."""
        return cls(size=cfg.size, style_dim=cfg.style_dim, n_mlp=cfg.n_mlp, lr_mlp=cfg.lr_mlp,
                   channel_base=cfg.channel_base, channel_max=cfg.channel_max, noise=cfg.noise,
                   impl=MODFC_TO_MODCONV[cfg.modfc])

    # ---------------------------------------------------------------- styles

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.size)) - 2

    def set_modconv_impl(self, impl: ModConvImpl) -> None:
        for m in self.modules():
            if isinstance(m, ModulatedConv2d):
                m.impl = impl

    # ---------------------------------------------------------------- synthesis

    def synthesize(self, ws: torch.Tensor, noise_mode: NoiseMode = "random",
                   noise_generator: NoiseGenerator = None) -> torch.Tensor:
        """Styles (B, num_ws, style_dim) -> images (B, 3, size, size)."""
        if noise_mode not in ("random", "zero"):
            raise ValueError(f"noise_mode must be 'random' or 'zero', got {noise_mode!r}")
        x = self.const(ws.shape[0])
        x = self.conv(x, ws[:, 0], noise_mode, noise_generator)
        rgb = self.to_rgb(x, ws[:, 1])
        for j, block in enumerate(self.blocks):
            x, rgb = block(x, rgb, ws[:, 2 * j + 1: 2 * j + 4], noise_mode, noise_generator)
        return rgb

    def forward(self, z: torch.Tensor | None = None, *, ws: torch.Tensor | None = None,
                truncation: float = 1.0, truncation_w: torch.Tensor | None = None,
                noise_mode: NoiseMode = "random", coords: torch.Tensor | None = None,
                noise_generator: NoiseGenerator = None) -> torch.Tensor:
        """Images (B, 3, size, size), roughly in [-1, 1] (not clamped).

        `coords` exists for interface parity with the CIPS generator: a convolutional generator only
        renders its own full grid, so anything but None is refused.
        """
        if coords is not None:
            raise ValueError("StyleGAN2Generator renders only its full image grid: coords must be None "
                             "(patches, denser grids and point sets need a CIPS generator)")
        return self.synthesize(self.expand_ws(z, ws, truncation, truncation_w), noise_mode, noise_generator)
