"""The StyleGAN2 residual discriminator, used unchanged for every generator (as in the paper).

fromRGB (1x1) -> residual blocks down to 4x4 (two 3x3 convolutions, the second blurs and halves the
resolution; a 1x1 skip that blurs and halves; sum scaled by 1/sqrt(2)) -> minibatch standard deviation
-> 3x3 convolution -> two fully-connected layers -> one logit. Channels at resolution r are
min(channel_base // r, channel_max). Built at the patch size K for patch-based training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cips.models.layers import SQRT2, EqualLinear, bias_leaky_relu, blur2d, downsample2d, fir_kernel


class EqualConv2d(nn.Module):
    """Convolution with equalized learning rate, optional 2x FIR downsampling and fused leaky ReLU.

    Downsampling follows StyleGAN2: a kxk convolution blurs (pad 2 for k = 3) then strides by 2; a 1x1
    convolution commutes with the blur, so it runs after a strided blur (4x fewer pixels filtered).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: bool = True, down: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels, 1, 1)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation, self.down = activation, down
        if down:
            self.register_buffer("fir", fir_kernel(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.scale
        k = weight.shape[-1]
        if self.down and k == 1:
            y = F.conv2d(downsample2d(x, self.fir), weight)
        elif self.down:
            y = F.conv2d(blur2d(x, self.fir, padding=(k + 1) // 2), weight, stride=2)
        else:
            y = F.conv2d(x, weight, padding=k // 2)
        if self.activation:
            return bias_leaky_relu(y, self.bias)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, down={self.down}, act={self.activation}"


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions (the second downsamples) plus a downsampling 1x1 skip, summed / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv1(self.conv0(x)) + self.skip(x)) * (1 / SQRT2)


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """Append one channel: the mean over features of the per-group standard deviation (StyleGAN2).

    The group is the largest divisor of the batch that is <= `group`, so any batch size works; sample
    i shares its group with samples i + k * (B / group), as in the official layout.
    """
    b, c, h, w = x.shape
    g = max(d for d in range(1, min(group, b) + 1) if b % d == 0)
    y = x.reshape(g, b // g, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B / g,)
    y = y.reshape(1, b // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(b, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: images (B, 3, size, size) -> logits (B, 1)."""

    def __init__(self, size: int, channel_base: int = 32768, channel_max: int = 512,
                 mbstd_group: int = 4) -> None:
        super().__init__()
        if size < 4 or size & (size - 1):
            raise ValueError(f"Discriminator size must be a power of two >= 4, got {size}")
        if mbstd_group < 1:
            raise ValueError(f"Discriminator mbstd_group must be >= 1, got {mbstd_group}")
        self.size, self.mbstd_group = size, mbstd_group
        self.hparams = dict(size=size, channel_base=channel_base, channel_max=channel_max,
                            mbstd_group=mbstd_group)

        def ch(r: int) -> int:
            return min(channel_base // r, channel_max)

        self.from_rgb = EqualConv2d(3, ch(size), 1)
        self.blocks = nn.Sequential(*(ResidualBlock(ch(r), ch(r // 2))
                                      for r in (2 ** k for k in range(int(math.log2(size)), 2, -1))))
        self.conv = EqualConv2d(ch(4) + 1, ch(4), 3)
        self.fc = EqualLinear(ch(4) * 4 * 4, ch(4), activation=True)
        self.out = EqualLinear(ch(4), 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"Discriminator expects images (B, 3, {self.size}, {self.size}), "
                             f"got {tuple(images.shape)}")
        x = self.blocks(self.from_rgb(images))
        x = self.conv(minibatch_stddev(x, self.mbstd_group))
        return self.out(self.fc(x.flatten(1)))
