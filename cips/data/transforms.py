"""Preprocessing of one source image: colour mode, padding, crops with rotation, resizing.

Geometry: image coordinates are continuous with pixel edges at integers (pixel (i, j) covers
[i, i+1) x [j, j+1)); a crop is a square of `size` source pixels centred at (cx, cy), turned by
`angle` degrees counter-clockwise. Angles that are multiples of 90 are applied as an integer crop
followed by a transpose, so they are exact pixel permutations; other angles resample bicubically
inside a rotated square that lies, with a margin of the kernel's reach, entirely inside the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cips.config import DatasetConfig

RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}
# pixels kept between a rotated crop and the image edge: the bicubic kernel reaches 2 pixels
ROTATION_MARGIN = 2.0
_QUARTER_TURNS = {
    1: Image.Transpose.ROTATE_90,
    2: Image.Transpose.ROTATE_180,
    3: Image.Transpose.ROTATE_270,
}


class SkipImage(Exception):
    """This source image cannot give a crop under the dataset's settings (the reason is the message)."""


@dataclass(frozen=True)
class Crop:
    """A square of `size` source pixels centred at (cx, cy), turned `angle` degrees counter-clockwise."""

    cx: float
    cy: float
    size: int
    angle: float = 0.0

    @property
    def quarter_turns(self) -> int | None:
        """k when the angle is exactly 90*k degrees (the exact path), else None."""
        k = self.angle / 90.0
        return int(k) % 4 if k == int(k) else None

    def corners(self) -> np.ndarray:
        """The four corners of the crop in image coordinates, (4, 2) as (x, y)."""
        t = math.radians(self.angle)
        c, s = math.cos(t), math.sin(t)
        h = self.size / 2
        local = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + np.array([self.cx, self.cy])


def to_mode(image: Image.Image, grayscale_to_rgb: bool = True) -> Image.Image:
    """8-bit RGB (or 8-bit grey when grayscale_to_rgb is false); transparency is composited on black."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64) / 257.0  # 16-bit range to 8-bit
        image = Image.fromarray(np.clip(arr.round(), 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    target = "RGB" if grayscale_to_rgb else "L"
    return image if image.mode == target else image.convert(target)


def pad_to(image: Image.Image, side: int) -> Image.Image:
    """Pad with black, centred, so both sides are at least `side` (larger sides are kept)."""
    w, h = image.size
    if w >= side and h >= side:
        return image
    out = Image.new(image.mode, (max(w, side), max(h, side)), 0)
    out.paste(image, ((out.width - w) // 2, (out.height - h) // 2))
    return out


def max_rotation_jitter(size: int, shorter_side: int, margin: float = ROTATION_MARGIN) -> float | None:
    """Largest |t| (degrees) such that a `size` crop turned 90k+t fits inside a square of `shorter_side`.

    None when every angle fits; 0.0 when only right angles fit.
    """
    room = shorter_side - 2 * margin
    if size * math.sqrt(2) <= room:
        return None
    if size >= room:
        return 0.0
    # the rotated square's bounding box is size * (|cos t| + |sin t|) = size * sqrt2 * sin(t + 45deg)
    return math.degrees(math.asin(room / (size * math.sqrt(2)))) - 45.0


def plan_crops(width: int, height: int, cfg: DatasetConfig, rng: np.random.Generator) -> list[Crop]:
    """The crops of one (padded) image of width x height, drawing randomness from `rng` in a fixed order."""
    mode, count = cfg.crop.mode, cfg.crop.count
    shorter = min(width, height)
    if mode == "none":
        if width != height:
            raise SkipImage(f"not square ({width}x{height}) and crop mode is 'none'")
        size = width
    else:
        size = cfg.crop.size or shorter
        if size > shorter:
            raise SkipImage(f"{width}x{height} is smaller than the {size}-pixel crop")
    crops = []
    for _ in range(count):
        if cfg.rotation == "arbitrary":
            crops.append(_rotated_crop(width, height, size, mode, rng))
            continue
        turns = int(rng.integers(4)) if cfg.rotation == "right-angles" else 0
        if mode == "random":
            left = int(rng.integers(width - size + 1))
            top = int(rng.integers(height - size + 1))
        else:  # centre (or the whole square image)
            left, top = (width - size) // 2, (height - size) // 2
        crops.append(Crop(left + size / 2, top + size / 2, size, 90.0 * turns))
    return crops


def _rotated_crop(width: int, height: int, size: int, mode: str, rng: np.random.Generator) -> Crop:
    jitter = max_rotation_jitter(size, min(width, height))
    if jitter is None:
        angle = float(rng.uniform(0.0, 360.0))
    else:
        turns = int(rng.integers(4))
        offset = float(rng.uniform(-jitter, jitter)) if jitter > 0 else 0.0
        angle = 90.0 * turns + offset
    t = math.radians(angle)
    reach = size * (abs(math.cos(t)) + abs(math.sin(t))) / 2
    if angle % 90 == 0:  # exact path: integer crop box
        if mode == "random":
            left, top = int(rng.integers(width - size + 1)), int(rng.integers(height - size + 1))
        else:
            left, top = (width - size) // 2, (height - size) // 2
        return Crop(left + size / 2, top + size / 2, size, angle)
    reach += ROTATION_MARGIN
    if mode == "random":
        cx = float(rng.uniform(reach, max(reach, width - reach)))
        cy = float(rng.uniform(reach, max(reach, height - reach)))
    else:
        cx, cy = width / 2, height / 2
    return Crop(cx, cy, size, angle)


def apply_crop(image: Image.Image, crop: Crop) -> Image.Image:
    """The crop as a size x size image (exact for multiples of 90 degrees, bicubic otherwise)."""
    s = crop.size
    turns = crop.quarter_turns
    if turns is not None:
        left, top = round(crop.cx - s / 2), round(crop.cy - s / 2)
        out = (
            image if (left, top, s, s) == (0, 0, *image.size) else image.crop((left, top, left + s, top + s))
        )
        return out.transpose(_QUARTER_TURNS[turns]) if turns else out
    t = math.radians(crop.angle)
    c, n = math.cos(t), math.sin(t)
    # input = R (output - s/2) + centre, in continuous coordinates (Pillow samples at pixel centres)
    coeffs = (c, -n, crop.cx - c * s / 2 + n * s / 2, n, c, crop.cy - n * s / 2 - c * s / 2)
    return image.transform((s, s), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC)


def resize(image: Image.Image, resolution: int, filter: str = "lanczos") -> Image.Image:
    """Square `resolution` image; unchanged when it already has that size."""
    if image.size == (resolution, resolution):
        return image
    return image.resize((resolution, resolution), RESAMPLE[filter])


def resize_shorter(image: Image.Image, resolution: int, filter: str = "lanczos") -> Image.Image:
    """The image with its shorter side `resolution` and its aspect kept (the longer side rounded)."""
    w, h = image.size
    scale = resolution / min(w, h)
    if w <= h:
        size = (resolution, max(resolution, round(h * scale)))
    else:
        size = (max(resolution, round(w * scale)), resolution)
    return image if size == image.size else image.resize(size, RESAMPLE[filter])


def process(image: Image.Image, cfg: DatasetConfig, rng: np.random.Generator) -> list[list[Image.Image]]:
    """One decoded source image -> for each crop, the list of images at cfg.resolutions (in order)."""
    image = to_mode(image, cfg.grayscale_to_rgb)
    if cfg.pad_to:
        image = pad_to(image, cfg.pad_to)
    if cfg.crop.mode == "per-load":  # aspect kept: training draws a square of it at every load
        return [[resize_shorter(image, r, cfg.filter) for r in cfg.resolutions]]
    out = []
    for crop in plan_crops(image.width, image.height, cfg, rng):
        square = apply_crop(image, crop)
        out.append([resize(square, r, cfg.filter) for r in cfg.resolutions])
    return out
