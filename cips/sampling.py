"""Sampling a generator, one place for every consumer (evaluation, spectra, encodings, beyond, `cips sample`).

Sample i of a set with first seed s has latent z_i = randn(style_dim) from torch.Generator seeded s + i, and
per-pixel noise from its own generator seeded NOISE_SEED_OFFSET + s + i: a sample is the same whatever the
batch it is drawn in. Images are quantised to uint8 as PNG writers store them (`cips.images.to_uint8`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import nn

from cips.images import to_uint8
from cips.runtime import resolve_device

QUANTISATION = "uint8 = floor((x + 1) * 127.5 + 0.5) clamped to [0, 255]"


def latents_for_seeds(seeds: Sequence[int], dim: int) -> torch.Tensor:
    """(len(seeds), dim): one standard-normal z per seed; a seed always gives the same z."""
    return torch.stack([latent(int(s), dim) for s in seeds])


def latent(seed: int, dim: int) -> torch.Tensor:
    """The latent z of sample `seed`: one standard normal vector from its own generator, so sample i is
    the same whatever the batch size."""
    return torch.randn(dim, generator=torch.Generator().manual_seed(seed))


# Sample i's per-pixel noise comes from its own generator, seeded apart from its latent's (the same seed
# would give noise equal to z); latent seeds stay far below this offset.
NOISE_SEED_OFFSET = 2**31


def noise_generators(seeds: Iterable[int], device: torch.device) -> list[torch.Generator]:
    """One noise generator per sample seed: a sample's noise is the same whatever batch it is drawn in."""
    return [torch.Generator(device).manual_seed(NOISE_SEED_OFFSET + s) for s in seeds]


def iter_generated(
    G: nn.Module,
    n: int,
    batch: int = 32,
    seed: int = 0,
    truncation: float = 1.0,
    device: str | torch.device = "cpu",
    noise_mode: str = "random",
) -> Iterator[torch.Tensor]:
    """uint8 batches of `n` samples of generator G (EMA, eval mode): z_i from seed + i, i = 0..n-1, and
    per-pixel noise from a generator of its own seeded with NOISE_SEED_OFFSET + seed + i, so every sample
    (and so every metric) is the same whatever `batch` is.
    """
    device = resolve_device(device)
    center = None
    if truncation != 1.0:  # the mean w once, not once per batch
        with torch.inference_mode():
            center = G.mean_w().to(device)
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        z = torch.stack([latent(seed + i, G.style_dim) for i in range(start, stop)]).to(device)
        gens = noise_generators(range(seed + start, seed + stop), device) if noise_mode == "random" else None
        with torch.inference_mode():
            images = G(z, truncation=truncation, truncation_w=center, noise_mode=noise_mode, noise_generator=gens)
        yield to_uint8(images).cpu()


def generation_seeds(n: int, seed: int, noise_mode: str = "random") -> dict:
    return {
        "z": f"z_i = randn(style_dim) from torch.Generator().manual_seed({seed} + i), i = 0..{n - 1}",
        "first": seed,
        "count": n,
        "noise_mode": noise_mode,
        "noise": f"noise of sample i from its own torch.Generator seeded with {NOISE_SEED_OFFSET} + {seed} + i",
    }


