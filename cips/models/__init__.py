"""Networks of the paper: the CIPS generator (every ablation is a flag), StyleGAN2, the discriminator.

Generators share one interface: `mapping(z) -> w`, `num_ws`, `mean_w()`, and
`forward(z=None, *, ws=None, truncation=1.0, truncation_w=None, noise_mode="random", ...) -> images`.
"""

from __future__ import annotations

from torch import nn

from cips.config import ModelConfig


def build_generator(cfg: ModelConfig) -> nn.Module:
    """The generator a model config describes."""
    if cfg.arch == "cips":
        from cips.models.cips import CIPSGenerator

        return CIPSGenerator.from_config(cfg)
    from cips.models.stylegan2 import StyleGAN2Generator

    return StyleGAN2Generator.from_config(cfg)


def build_discriminator(cfg: ModelConfig, size: int | None = None) -> nn.Module:
    """The StyleGAN2 residual discriminator for images (or patches) of side `size` (default cfg.size)."""
    from cips.models.discriminator import Discriminator

    d = cfg.discriminator
    return Discriminator(size or cfg.size, channel_base=d.channel_base, channel_max=d.channel_max,
                         mbstd_group=d.mbstd_group)
