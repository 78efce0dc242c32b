"""Coordinate sets, the input of a CIPS generator.

A coordinate is (x', y') with x' = 2x/(W-1) - 1 and y' = 2y/(H-1) - 1 for pixel column x and row y of
the training grid (the paper's normalisation), so the training grid spans [-1, 1] in both axes.
Grids are (B, 2, H, W) tensors, channel 0 = x', channel 1 = y'; irregular sets are (B, N, 2).

On a cylinder of circumference P pixels, x' = 2 (x mod P) / P - 1 is periodic: the generator maps it
to an angle, so column P is column 0 again.
"""

from __future__ import annotations

import math

import torch


def _axis(n: int, device=None, dtype=None) -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype or torch.float32)


def grid(h: int, w: int | None = None, device=None, dtype=None) -> torch.Tensor:
    """The full (1, 2, H, W) grid of an HxW image."""
    w = h if w is None else w
    x = _axis(w, device, dtype).view(1, 1, 1, w).expand(1, 1, h, w)
    y = _axis(h, device, dtype).view(1, 1, h, 1).expand(1, 1, h, w)
    return torch.cat([x, y], dim=1)


def dense_grid(size: int, factor: float, device=None, dtype=None) -> torch.Tensor:
    """A denser grid over the same extent: round(size * factor) points per side (super-resolution)."""
    n = int(round(size * factor))
    return grid(n, n, device, dtype)


def pixel_to_coord(p: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel position (row or column index, possibly fractional) of a size-wide grid -> [-1, 1]."""
    return p * (2.0 / (size - 1)) - 1.0


def patch_grid(size: int, k: int, sigma: float, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """P_{K,sigma}(u, v): the (B, 2, K, K) coordinates of pixels (u + i*sigma, v + j*sigma) of the grid.

    `u` (columns) and `v` (rows) are the corner pixels, shape (B,).
    """
    steps = torch.arange(k, device=u.device, dtype=torch.float32) * sigma
    xs = pixel_to_coord(u.float().view(-1, 1) + steps, size)  # (B, K)
    ys = pixel_to_coord(v.float().view(-1, 1) + steps, size)
    b = xs.shape[0]
    return torch.stack([xs.view(b, 1, k).expand(b, k, k), ys.view(b, k, 1).expand(b, k, k)], dim=1)


def random_patch_offsets(batch: int, size: int, k: int, sigma: float, generator: torch.Generator | None = None,
                         device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform integer corners (u, v) with 0 <= u, v < size - (k-1)*sigma, so the patch fits."""
    span = size - (k - 1) * sigma
    if span <= 0:
        raise ValueError(f"patch of {k} points with dilation {sigma} does not fit in {size} pixels")
    high = max(1, math.ceil(span))
    u = torch.randint(0, high, (batch,), generator=generator).to(device)
    v = torch.randint(0, high, (batch,), generator=generator).to(device)
    return u, v


def multiscale_patch_offsets(batch: int, size: int, k: int, generator: torch.Generator | None = None
                             ) -> tuple[int, torch.Tensor, torch.Tensor]:
    """The official CIPS patch sampling of one step: (dilation, u, v).

    One scale l is drawn uniformly from 0..log2(size/k) for the whole batch; the patch takes every
    2^l-th pixel. Per sample and axis, as the official dataset does: a random start b in
    [0, size - 2^l k + 2^l), the strided pixels b, b + 2^l, ... and a random run of k of them
    (l = 0 is a dense kxk random crop).
    """
    n_scales = int(math.log2(size // k)) + 1
    level = int(torch.randint(0, n_scales, (1,), generator=generator))
    s = 2**level
    if level == 0:
        return 1, *(torch.randint(0, size - k + 1, (batch,), generator=generator) for _ in range(2))

    def axis() -> torch.Tensor:
        start = torch.randint(0, size - s * k + s, (batch,), generator=generator)
        available = torch.div(size - start + s - 1, s, rounding_mode="floor")  # strided pixels from start
        run = (torch.rand(batch, generator=generator) * (available - k + 1)).floor().long()
        return start + s * run

    u = axis()
    return s, u, axis()


def extract_patches(images: torch.Tensor, u: torch.Tensor, v: torch.Tensor, k: int, sigma: float) -> torch.Tensor:
    """The same patch sampling applied to real images (B, C, S, S) -> (B, C, K, K).

    Integer dilation picks pixels exactly; fractional dilation samples bilinearly at the same points.
    """
    b, c, s, _ = images.shape
    if float(sigma).is_integer():
        steps = torch.arange(k, device=images.device) * int(sigma)
        cols = u.to(images.device).long().view(b, 1) + steps  # (B, K)
        rows = v.to(images.device).long().view(b, 1) + steps
        idx = (rows.view(b, k, 1) * s + cols.view(b, 1, k)).view(b, 1, k * k).expand(b, c, k * k)
        return images.reshape(b, c, s * s).gather(2, idx).view(b, c, k, k)
    coords = patch_grid(s, k, sigma, u, v).to(images)
    return torch.nn.functional.grid_sample(images, coords.permute(0, 2, 3, 1), mode="bilinear",
                                           padding_mode="border", align_corners=True)


def cylinder_grid(height: int, panorama_width: int, x0: torch.Tensor, width: int) -> torch.Tensor:
    """(B, 2, H, W): columns x0 .. x0+W-1 (wrapping) of a cylinder `panorama_width` pixels around."""
    cols = (x0.view(-1, 1).long() + torch.arange(width, device=x0.device)) % panorama_width  # (B, W)
    xs = cols.float() * (2.0 / panorama_width) - 1.0
    ys = _axis(height, x0.device)
    b = xs.shape[0]
    return torch.stack([xs.view(b, 1, width).expand(b, height, width),
                        ys.view(1, height, 1).expand(b, height, width)], dim=1)


def full_cylinder(rows: int, columns: int, device=None) -> torch.Tensor:
    """(1, 2, rows, columns): the whole cylinder sampled with `columns` points around (a panorama)."""
    xs = torch.arange(columns, device=device, dtype=torch.float32) * (2.0 / columns) - 1.0
    ys = _axis(rows, device)
    return torch.stack([xs.view(1, columns).expand(rows, columns), ys.view(rows, 1).expand(rows, columns)]).unsqueeze(0)


def random_cylinder_offsets(batch: int, panorama_width: int, generator: torch.Generator | None = None,
                            device=None) -> torch.Tensor:
    """Uniform starting columns of crops of the cylinder."""
    return torch.randint(0, panorama_width, (batch,), generator=generator).to(device)


def foveated_points(size: int, fraction: float, center: tuple[float, float] = (0.0, 0.0), spread: float = 0.35,
                    batch: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """A foveated subset of the grid: `fraction` of its nodes, drawn without replacement with probability
    proportional to a Gaussian (std `spread` in coordinate units) around `center`; (B, N, 2) sorted by
    pixel index. With fraction 1 this is the whole grid.
    """
    full = grid(size).permute(0, 2, 3, 1).reshape(size * size, 2)
    n = max(1, int(round(fraction * size * size)))
    d2 = ((full - torch.tensor(center)) ** 2).sum(1)
    weights = torch.exp(-d2 / (2 * spread**2)) + 1e-6  # the floor keeps the periphery reachable
    picks = [torch.multinomial(weights, n, replacement=False, generator=generator).sort().values
             for _ in range(batch)]
    return torch.stack([full[p] for p in picks])


def points_to_image(points: torch.Tensor, values: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scatter per-point values (B, N, C) at grid nodes `points` (B, N, 2) into (B, C, size, size) images,
    with a (B, 1, size, size) mask of the filled pixels (for filling the rest by interpolation)."""
    b, n, c = values.shape
    cols = ((points[..., 0] + 1) * (size - 1) / 2).round().long().clamp(0, size - 1)
    rows = ((points[..., 1] + 1) * (size - 1) / 2).round().long().clamp(0, size - 1)
    flat = rows * size + cols  # (B, N)
    img = values.new_zeros(b, c, size * size).scatter(2, flat.unsqueeze(1).expand(b, c, n), values.transpose(1, 2))
    mask = values.new_zeros(b, 1, size * size).scatter(2, flat.unsqueeze(1), 1.0)
    return img.view(b, c, size, size), mask.view(b, 1, size, size)
