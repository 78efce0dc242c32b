"""Feature networks and image streams: uint8 images in, (N, D) float32 features out.

Every image reaches a network as uint8 (B, 3, H, W), exactly as torch-fidelity reads a PNG, so metrics
computed from streamed generator output equal those from the same images written to a folder.
Generator output in [-1, 1] is quantised as floor((x + 1) * 127.5 + 0.5), clamped to [0, 255]: what
torchvision's save_image (the official CIPS evaluation) and StyleGAN2-ADA both write.

`FeatureNetwork` runs torch-fidelity's networks, by default through a faster equivalent of the same
module: batch norm folded into the convolutions (torch.fx), channels_last layout, inference mode and
small chunks (better cache use on CPU). Its features equal torch-fidelity's forward to ~1e-5 absolute
(features are O(1)); `exact=True` runs torch-fidelity's forward unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.fx.experimental.optimization as fx_opt
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
from tqdm.auto import tqdm

from cips.metrics import inception
from cips.runtime import resolve_device

VGG16_FILE = "vgg16-397923af.pth"  # torchvision's IMAGENET1K_V1 weights, as torch-fidelity's prc loads them


# --------------------------------------------------------------------------------------------
# feature networks


class _InceptionBody(nn.Module):
    """torch-fidelity's Inception forward from the normalised 299x299 input to the pooled 2048 features."""

    ORDER = (
        "Conv2d_1a_3x3",
        "Conv2d_2a_3x3",
        "Conv2d_2b_3x3",
        "MaxPool_1",
        "Conv2d_3b_1x1",
        "Conv2d_4a_3x3",
        "MaxPool_2",
        "Mixed_5b",
        "Mixed_5c",
        "Mixed_5d",
        "Mixed_6a",
        "Mixed_6b",
        "Mixed_6c",
        "Mixed_6d",
        "Mixed_6e",
        "Mixed_7a",
        "Mixed_7b",
        "Mixed_7c",
        "AvgPool",
    )

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        for name in self.ORDER:
            self.add_module(name, copy.deepcopy(getattr(net, name)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.ORDER:
            x = getattr(self, name)(x)
        return torch.flatten(x, 1)


@dataclass
class FeatureNetwork:
    """A torch-fidelity feature extractor with the facts a protocol records."""

    name: str  # "inception-v3-compat" | "vgg16"
    layer: str  # torch-fidelity feature name ("2048", "fc2_relu")
    dim: int
    weights: dict  # source and sha256
    resize: str
    normalisation: str
    module: nn.Module  # torch-fidelity's extractor (uint8 in, tuple of features out)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    exact: bool = False
    chunk: int = 16  # images per forward on CPU; 8-16 measured fastest on 2 cores (benchmarks/fid.py)
    _fast: nn.Module | None = None

    def protocol(self) -> dict:
        return {
            "feature_network": self.name,
            "feature_layer": self.layer,
            "feature_dim": self.dim,
            "feature_weights": self.weights,
            "resize": self.resize,
            "normalisation": self.normalisation,
            "feature_path": "torch-fidelity forward"
            if self.exact or self._fast is None
            else "torch-fidelity modules, batch norm folded, channels_last",
        }

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> float32 (B, dim) on the CPU."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        chunk = self.chunk if self.device.type == "cpu" else max(self.chunk, 64)
        outs = []
        with torch.inference_mode(), _no_tf32():
            for part in images.split(chunk):
                part = part.to(self.device, non_blocking=True)
                if self._fast is not None and not self.exact:
                    outs.append(self._fast_forward(part).float().cpu())
                else:
                    outs.append(self.module(part)[0].float().cpu())
        return torch.cat(outs) if outs else torch.empty(0, self.dim)

    def _fast_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(299, 299), align_corners=False)
        x = ((x - 128) / 128).contiguous(memory_format=torch.channels_last)
        return self._fast(x)


@contextlib.contextmanager
def _no_tf32():
    """TF32 convolutions (PyTorch's default on Ampere GPUs) would change features at the 1e-3 level."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def load_inception(
    device: str | torch.device = "cpu", exact: bool = False, weights: inception.WeightsInfo | None = None
) -> FeatureNetwork:
    """The FID/KID Inception ('inception-v3-compat', pooled 2048-d features), verified weights."""
    info = weights or inception.converted_weights()
    device = resolve_device(device) if isinstance(device, str) else device
    module = inception.load_torch_fidelity_inception(info).to(device)
    net = FeatureNetwork(
        inception.NETWORK,
        inception.FEATURE_LAYER,
        2048,
        info.protocol(),
        inception.RESIZE,
        inception.NORMALISATION,
        module,
        device,
        exact,
    )
    if not exact:
        fused = fx_opt.fuse(_InceptionBody(module).eval(), inplace=True)
        net._fast = fused.to(device, memory_format=torch.channels_last).eval()
    return net


def vgg16_file() -> Path | None:
    """torchvision's VGG16 weights in torch hub's cache (present only where they were downloaded)."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    return path if path.is_file() else None


def load_vgg16(device: str | torch.device = "cpu") -> FeatureNetwork:
    """torch-fidelity's VGG16 (fc2 after ReLU), the precision/recall network of the paper's protocol."""
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

    path = vgg16_file()
    if path is None:
        raise FileNotFoundError(
            f"VGG16 weights ({VGG16_FILE}) are not in torch hub's cache "
            f"({Path(torch.hub.get_dir()) / 'checkpoints'}); they download from the internet "
            "on first use of torch-fidelity's prc, or set eval.prc_features to inception"
        )
    digest = inception.sha256_file(path)
    if not digest.startswith(VGG16_FILE.split("-")[1].split(".")[0]):
        raise ValueError(
            f"{path}: sha256 {digest} does not match the file name; delete it and download again"
        )
    device = resolve_device(device) if isinstance(device, str) else device
    module = FeatureExtractorVGG16("vgg16", ["fc2_relu"], feature_extractor_weights_path=str(path)).to(device)
    return FeatureNetwork(
        "vgg16",
        "fc2_relu",
        4096,
        {"network": "vgg16", "source": f"torchvision: {VGG16_FILE}", "sha256": digest},
        "tf1-bilinear(align_corners=False) to 224x224",
        "ImageNet mean/std",
        module,
        device,
        exact=True,
    )


def prc_network_choice(choice: str = "auto") -> str:
    """Which network precision/recall uses: 'vgg16' (the paper's) when its weights are present."""
    if choice == "auto":
        return "vgg16" if vgg16_file() is not None else inception.NETWORK
    if choice in ("vgg16", "inception", inception.NETWORK):
        return "vgg16" if choice == "vgg16" else inception.NETWORK
    raise ValueError(f"eval.prc_features: {choice!r} is not one of auto, vgg16, inception")


def load_network(name: str, device: str | torch.device = "cpu", exact: bool = False) -> FeatureNetwork:
    if name in ("inception", inception.NETWORK):
        return load_inception(device, exact)
    if name == "vgg16":
        return load_vgg16(device)
    raise ValueError(f"unknown feature network {name!r} (inception-v3-compat, vgg16)")


# --------------------------------------------------------------------------------------------
# image sources (uint8 (3, H, W) datasets and batch iterators)


class FolderImages(Dataset):
    """Images in a folder, found and decoded exactly as torch-fidelity's command line does."""

    def __init__(self, path: str | Path) -> None:
        from torch_fidelity.datasets import ImagesPathDataset
        from torch_fidelity.utils import glob_samples_paths

        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path}: no such folder")
        self.files = glob_samples_paths(str(self.path), False, "png,jpg,jpeg", "jpg,jpeg", verbose=False)
        if not self.files:
            raise ValueError(f"{self.path}: no .png/.jpg/.jpeg images in this folder")
        self._images = ImagesPathDataset(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self._images[i]

    def describe(self) -> dict:
        """What the images are, independent of where they lie (hashed into cache keys)."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{Path(f).name}:{os.path.getsize(f)};".encode())
        return {"kind": "folder", "count": len(self), "files_sha256": h.hexdigest()}


class LMDBImages(Dataset):
    """uint8 (3, H, W) images of an LMDB in the project's (or official CIPS's) layout, read through the
    training dataset class so every value format (raw, PNG, JPEG) decodes the same way."""

    def __init__(self, path: str | Path) -> None:
        from cips.data.dataset import ImageLMDBDataset
        from cips.data.errors import DataError
        from cips.data.lmdb_io import index_key, open_readonly

        self.path = Path(path)
        if not (self.path / "data.mdb").is_file():
            raise FileNotFoundError(f"{self.path}: not an LMDB environment (no data.mdb)")
        try:
            self.ds = ImageLMDBDataset(self.path, uint8=True)
        except DataError as err:
            raise ValueError(str(err)) from None
        self.manifest = self.ds.manifest
        # what the images are, independent of where they lie (hashed into cache keys): the count,
        # the manifest and the bytes of the first, middle and last records
        h = hashlib.sha256()
        with open_readonly(self.path).begin() as txn:
            manifest = txn.get(b"manifest")
            for i in sorted({0, len(self.ds) // 2, max(0, len(self.ds) - 1)}):
                h.update(txn.get(index_key(i)) or b"")
        self._describe = {
            "kind": "lmdb",
            "count": len(self.ds),
            "manifest_sha256": None if manifest is None else hashlib.sha256(manifest).hexdigest(),
            "records_sha256": h.hexdigest(),
        }

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.ds[i]

    def describe(self) -> dict:
        return dict(self._describe)


def open_images(path: str | Path) -> Dataset:
    """An image folder or an LMDB environment directory, as a dataset of uint8 (3, H, W) tensors."""
    path = Path(path)
    if (path / "data.mdb").is_file():
        return LMDBImages(path)
    if path.is_dir():
        return FolderImages(path)
    raise FileNotFoundError(f"{path}: neither an image folder nor an LMDB directory")


def iter_dataset(
    ds: Dataset, indices: Iterable[int] | None = None, batch: int = 64, workers: int = 0
) -> Iterator[torch.Tensor]:
    """uint8 batches (B, 3, H, W) of `ds` (optionally a subset), in order. Sizes must agree."""
    subset = ds if indices is None else Subset(ds, list(indices))
    loader = DataLoader(
        subset,
        batch_size=batch,
        shuffle=False,
        num_workers=workers,
        collate_fn=_stack_same_size,
        persistent_workers=False,
    )
    yield from loader


def _stack_same_size(items: list[torch.Tensor]) -> torch.Tensor:
    shape = items[0].shape
    for t in items:
        if t.shape != shape:
            raise ValueError(
                f"images of different sizes in one set: {tuple(shape)} and {tuple(t.shape)} "
                "(resize them to one size first)"
            )
    return torch.stack(items)


def extract(
    batches: Iterable[torch.Tensor],
    networks: list[FeatureNetwork],
    total: int | None = None,
    desc: str = "features",
    progress: bool = True,
    tap: Callable[[torch.Tensor], None] | None = None,
) -> dict[str, np.ndarray]:
    """Features of every network for a stream of uint8 batches: {network name: (N, D) float32}.

    `tap` sees each batch first (sample grids, spectra, PNG export) without a second pass.
    """
    out: dict[str, list[np.ndarray]] = {net.name: [] for net in networks}
    resolution = None
    with tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for images in batches:
            if resolution is None:
                resolution = tuple(images.shape[1:])
            elif tuple(images.shape[1:]) != resolution:
                raise ValueError(f"{desc}: image size changed from {resolution} to {tuple(images.shape[1:])}")
            if tap is not None:
                tap(images)
            for net in networks:
                out[net.name].append(net(images).numpy())
            bar.update(images.shape[0])
    return {k: (np.concatenate(v) if v else np.zeros((0, 0), np.float32)) for k, v in out.items()}
