"""Small stand-ins for tests and benchmarks of the evaluation code: a generator with the project's
generator interface, and a writer of LMDBs in the project's layout. Not used by any stage."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from cips.models.layers import NoiseGenerator, randn_noise


class ToyGenerator(nn.Module):
    """z (B, style_dim) -> images (B, 3, size, size) in about [-1, 1]: a mapping MLP and two upsampling convs.

    Implements the generator interface the evaluation uses (size, style_dim, num_ws, mapping, mean_w,
    forward(z, *, ws, truncation, truncation_w, noise_mode, noise_generator)); per-pixel noise when
    noise_mode='random'."""

    def __init__(self, size: int = 32, style_dim: int = 64, seed: int = 0) -> None:
        super().__init__()
        if size % 4:
            raise ValueError(f"size must be a multiple of 4, got {size}")
        self.size, self.style_dim, self.num_ws = size, style_dim, 1
        g = torch.Generator().manual_seed(seed)
        self.mapping_net = nn.Sequential(nn.Linear(style_dim, style_dim), nn.LeakyReLU(0.2))
        self.to_map = nn.Linear(style_dim, 16 * (size // 4) ** 2)
        self.up1 = nn.Conv2d(16, 16, 3, padding=1)
        self.up2 = nn.Conv2d(16, 3, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / max(1, p.shape[-1]) ** 0.5))

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.mapping_net(z)

    def mean_w(self, n: int = 10000, seed: int = 0) -> torch.Tensor:
        z = torch.randn(n, self.style_dim, generator=torch.Generator().manual_seed(seed))
        return self.mapping(z).mean(0)

    def forward(
        self,
        z: torch.Tensor | None = None,
        *,
        ws: torch.Tensor | None = None,
        truncation: float = 1.0,
        truncation_w: torch.Tensor | None = None,
        noise_mode: str = "random",
        coords: torch.Tensor | None = None,
        noise_generator: NoiseGenerator = None,
    ) -> torch.Tensor:
        w = self.mapping(z) if ws is None else (ws if ws.dim() == 2 else ws[:, 0])
        if truncation != 1.0:
            center = truncation_w if truncation_w is not None else self.mean_w(1000)
            w = center + truncation * (w - center)
        x = self.to_map(w).view(-1, 16, self.size // 4, self.size // 4)
        x = nn.functional.leaky_relu(self.up1(nn.functional.interpolate(x, scale_factor=2)), 0.2)
        if noise_mode == "random":
            x = x + 0.1 * randn_noise(tuple(x.shape), noise_generator, x.device, x.dtype)
        x = self.up2(nn.functional.interpolate(x, scale_factor=2))
        return torch.tanh(x)


def write_lmdb(path: str | Path, images: np.ndarray, fmt: str = "PNG", manifest: dict | None = None) -> Path:
    """Write uint8 images (N, H, W, 3) as an LMDB in the project's layout
    (b"length", b"%07d" keys, b"manifest")."""
    import lmdb

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    size = max(1 << 20, int(images.nbytes * 3) + (1 << 20))
    env = lmdb.open(str(path), map_size=size)
    with env.begin(write=True) as txn:
        for i, img in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format=fmt)
            txn.put(f"{i:07d}".encode(), buf.getvalue())
        txn.put(b"length", str(len(images)).encode())
        txn.put(b"manifest", json.dumps(manifest or {"format": fmt.lower(), "count": len(images)}).encode())
    env.close()
    return path


def blob_images(n: int, size: int = 32, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    """Smooth random colour images (N, size, size, 3) uint8; `shift` moves their colour distribution."""
    rng = np.random.default_rng(seed)
    low = rng.normal(size=(n, 4, 4, 3))
    x = torch.nn.functional.interpolate(
        torch.from_numpy(low).permute(0, 3, 1, 2), size=(size, size), mode="bicubic", align_corners=False
    )
    x = x.permute(0, 2, 3, 1).numpy() * 50 + 128 + shift
    return np.clip(x, 0, 255).astype(np.uint8)
