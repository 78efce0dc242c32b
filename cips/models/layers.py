"""Building blocks shared by the generators and the discriminator.

Equalized learning rate (StyleGAN2): weights are stored with unit variance and scaled at run time by
1/sqrt(fan_in) (times a learning-rate multiplier), so Adam's effective step is the same for every layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class SharedNoise:
    """Per-pixel noise of one global batch that several passes render part by part (the micro-batches and
    processes of data-parallel training): the i-th draw of a pass is rows `rows` of the i-th draw of the whole
    batch from torch's global RNG, made once, so any split of the batch gets the noise one pass would."""

    def __init__(self, total: int) -> None:
        self.total, self.draws, self.rows, self.i = total, [], None, 0

    def part(self, rows: torch.Tensor) -> SharedNoise:
        """Serve the next pass, which renders samples `rows` of the global batch."""
        self.rows, self.i = rows, 0
        return self

    def randn(self, shape: tuple[int, ...], device, dtype) -> torch.Tensor:
        if self.i == len(self.draws):
            self.draws.append(torch.randn((self.total, *shape[1:]), device=device, dtype=dtype))
        out = self.draws[self.i][self.rows.to(self.draws[self.i].device)]
        if out.shape != torch.Size(shape):
            raise ValueError(f"shared noise: pass {self.i} asked for {tuple(shape)}, holds {tuple(out.shape)}")
        self.i += 1
        return out


# Where per-pixel noise comes from: torch's global RNG (None), one generator for the whole batch, one
# generator per sample (so a sample's noise does not depend on the other samples in its batch), or rows of
# a global batch's draw (SharedNoise).
NoiseGenerator = torch.Generator | Sequence[torch.Generator] | SharedNoise | None


def randn_noise(shape: tuple[int, ...], generator: NoiseGenerator, device: torch.device | str | None = None,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal noise of `shape` (batch first). With a sequence of generators, sample i's noise is
    drawn from generator i alone."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if isinstance(generator, SharedNoise):
        return generator.randn(shape, device, dtype)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} noise generators for a batch of {shape[0]}")
    return torch.stack([torch.randn(shape[1:], generator=g, device=device, dtype=dtype) for g in generator])


class _BiasLeakyReLU(torch.autograd.Function):
    """y = leaky_relu(x + b + strength * noise, slope) * gain in two passes over x, saving only y for
    backward (its sign gives the slope) and the noise. Twice differentiable (R1 needs it)."""

    @staticmethod
    def forward(ctx, x, bias, noise, strength, gain: float, slope: float):
        # gain > 0 commutes with leaky ReLU: scale first, fused with the bias add
        y = x * gain if bias is None else torch.add(bias * gain, x, alpha=gain)
        if noise is not None:
            y.addcmul_(noise, strength * gain)
        F.leaky_relu_(y, slope)
        ctx.save_for_backward(y, noise)
        ctx.gain, ctx.slope = gain, slope
        ctx.bias_shape = None if bias is None else bias.shape
        return y

    @staticmethod
    def backward(ctx, grad):
        y, noise = ctx.saved_tensors
        gx = torch.ops.aten.leaky_relu_backward(grad, y, ctx.slope, True) * ctx.gain
        gb = gx.sum_to_size(ctx.bias_shape) if ctx.bias_shape is not None and ctx.needs_input_grad[1] else None
        gs = None
        if noise is not None and ctx.needs_input_grad[3]:
            gs = (gx.sum(-1, keepdim=True) * noise).sum() if noise.shape[-1] == 1 else (gx * noise).sum()
        return gx, gb, None, gs, None, None


def bias_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None, gain: float = SQRT2, slope: float = 0.2,
                    noise: torch.Tensor | None = None, strength: torch.Tensor | None = None) -> torch.Tensor:
    """leaky_relu(x + bias + strength * noise) * gain, the StyleGAN2 activation with noise injection;
    bias broadcasts over trailing dims, noise (broadcastable to x) is scaled by the scalar `strength`."""
    if noise is not None and strength is None:
        raise ValueError("noise needs its strength")
    return _BiasLeakyReLU.apply(x, bias, noise, strength, gain, slope)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate and an optional fused leaky ReLU."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            return bias_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, lr_mul={self.lr_mul}, act={self.activation}"


def pixel_norm(x: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=dim, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """z -> w: pixel norm then `n_layers` equalized FC layers with leaky ReLU (lr multiplier 0.01)."""

    def __init__(self, style_dim: int = 512, n_layers: int = 8, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.style_dim = style_dim
        self.layers = nn.ModuleList(
            EqualLinear(style_dim, style_dim, lr_mul=lr_mul, activation=True) for _ in range(n_layers)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = layer(x)
        return x


# --------------------------------------------------------------------------------------------
# FIR resampling with the [1, 3, 3, 1] filter (StyleGAN2), pure PyTorch: one depthwise convolution
# (measured faster on CPU than two separable 1-D passes or shifted-slice sums)


def fir_kernel(taps: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)) -> torch.Tensor:
    """The separable 2-D low-pass filter outer(taps, taps), normalised to sum 1."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = torch.outer(k, k)
    return k / k.sum()


def _depthwise(kernel: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    return kernel.to(like.dtype).expand(channels, 1, *kernel.shape)


def blur2d(x: torch.Tensor, kernel: torch.Tensor, padding: int, stride: int = 1,
           gain: float = 1.0) -> torch.Tensor:
    """Filter every channel of x (B, C, H, W) with `kernel` (kh, kw), zero padding, optional subsampling."""
    k = kernel * gain if gain != 1.0 else kernel
    return F.conv2d(x, _depthwise(k, x.shape[1], x), padding=padding, stride=stride, groups=x.shape[1])


def upsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x FIR upsampling (zero insertion, then the filter with gain 4): (B, C, H, W) -> (B, C, 2H, 2W).

    A depthwise transposed convolution with stride 2; padding 1 aligns it with upfirdn2d(up=2) for a
    symmetric 4-tap filter.
    """
    c = x.shape[1]
    return F.conv_transpose2d(x, _depthwise(kernel * 4, c, x), stride=2, padding=1, groups=c)


def downsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x FIR downsampling (filter, then keep every second pixel): (B, C, H, W) -> (B, C, H/2, W/2)."""
    return blur2d(x, kernel, padding=1, stride=2)
