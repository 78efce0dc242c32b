"""Fig. 9, super-resolution by a denser grid: one style rendered at 1x, 2x, 4x the training size, beside
Lanczos upsampling of the 1x image, with the spectra of both at the largest size.

A denser grid (`cips.coords.dense_grid`) spans the same [-1, 1] extent with more nodes, so the generator is
asked for values between its training pixels. Lanczos can only interpolate the 1x image: it adds no power
above the 1x image's Nyquist frequency. `beyond_nyquist` measures that: the share of the spectrum's power
(DC excluded) at frequencies with |f_x| or |f_y| above size/2 cycles per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from cips import coords as coordsets
from cips.analysis.spectrum import SpectrumParams, azimuthal_profile, grayscale, log_magnitude
from cips.beyond.render import CHUNK, render, require_cips


@dataclass
class SuperRes:
    factors: np.ndarray  # (F,) ints
    images: list[np.ndarray]  # F arrays (size*f, size*f, 3) in [0, 1]
    lanczos: np.ndarray  # (size*F_max, size*F_max, 3): the 1x image upsampled with Lanczos
    spectra: dict[str, np.ndarray]  # "cips" / "lanczos" -> shifted log-magnitude spectrum at the largest size
    profiles: dict[str, np.ndarray]  # azimuthal profiles of the same
    beyond_nyquist: dict[str, float]  # share of power above the 1x Nyquist radius


def lanczos_upsample(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) floats -> (size, size, C) floats, Lanczos (PIL, per channel in 32-bit float, no rounding)."""
    chans = [np.asarray(Image.fromarray(image[..., c].astype(np.float32), mode="F").resize(
        (size, size), Image.Resampling.LANCZOS)) for c in range(image.shape[-1])]
    return np.clip(np.stack(chans, -1).astype(np.float64), 0, 1)


def power_beyond(image: np.ndarray, nyquist: float) -> float:
    """Share of the power |F|^2 (DC excluded) of an (H, W, 3) image outside the band of an image with Nyquist
    frequency `nyquist` cycles per image: frequencies with |f_x| or |f_y| above it (a square band, not a ring:
    a smaller image's spectrum reaches into the corners)."""
    gray = grayscale(torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0))[0]
    power = torch.fft.fftshift(torch.fft.fft2(gray - gray.mean())).abs() ** 2
    h, w = gray.shape
    fy = (torch.arange(h) - h // 2).abs().view(h, 1)
    fx = (torch.arange(w) - w // 2).abs().view(1, w)
    total = float(power.sum())
    return 0.0 if total == 0 else float(power[(fx > nyquist) | (fy > nyquist)].sum()) / total


@torch.no_grad()
def super_resolution(g: nn.Module, ws: torch.Tensor, factors: Sequence[int] = (1, 2, 4),
                     chunk: int | None = CHUNK, params: SpectrumParams = SpectrumParams()) -> SuperRes:
    """Fig. 9 for one style ws (1, num_ws, style_dim)."""
    require_cips(g, "rendering on a denser grid")
    factors = sorted({int(f) for f in factors})
    if factors[0] != 1 or any(f < 1 for f in factors):
        raise ValueError(f"superres: factors must be whole numbers >= 1 and include 1, got {factors}")
    size = g.size
    images = []
    for f in factors:
        img = render(g, ws[:1], coordsets.dense_grid(size, f), chunk)
        images.append(((img[0].double().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy())
    big = size * factors[-1]
    lanczos = lanczos_upsample(images[0], big)
    spectra, profiles, beyond = {}, {}, {}
    for name, img in (("cips", images[-1]), ("lanczos", lanczos)):
        gray = grayscale(torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0))
        spec = log_magnitude(gray, params)
        spectra[name] = spec[0].numpy()
        profiles[name] = azimuthal_profile(spec, params)[0].numpy()
        beyond[name] = power_beyond(img, size / 2)
    return SuperRes(np.asarray(factors), images, lanczos, spectra, profiles, beyond)
