"""Batches of real images for training, identical for any number of ranks.

Each step draws the indices (with replacement) and flips of the *global* batch from a generator seeded
by (seed, step); rank r takes samples r, r + world, r + 2 world, ... A run is therefore reproducible,
resumes exactly at any step without saving sampler state, and N processes see the same images as one
process with the same global batch (the strided split also keeps minibatch-stddev groups intact).
A dataset prepared with `crop.mode: per-load` keeps each image's aspect; every load takes a random square of
it, placed by uniforms drawn for the global batch from the step's generator (stream 4), as the official
code's --to_crop draws a new crop at every load.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cips.data.dataset import ImageLMDBDataset

IN_MEMORY_BYTES = 1 << 30  # datasets up to 1 GiB of uint8 pixels are read once into memory


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """The generator of all random draws of one step (latents, patches, reals) for one stream."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 8 + stream)


def global_indices(length: int, batch: int, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and flip flags of the global batch of `step`."""
    g = step_generator(seed, step, stream=1)
    return torch.randint(0, length, (batch,), generator=g), torch.rand(batch, generator=g) < 0.5


def square_offsets(batch: int, seed: int, step: int) -> torch.Tensor:
    """(batch, 2) uniforms in [0, 1) placing each image's square (per-load crops) in the global batch."""
    return torch.rand(batch, 2, generator=step_generator(seed, step, stream=4))


def take_square(image: torch.Tensor, size: int, where: torch.Tensor) -> torch.Tensor:
    """The `size` x `size` square of a (C, H, W) image at relative position `where` (two uniforms)."""
    h, w = image.shape[1:]
    top, left = min(int(where[0] * (h - size + 1)), h - size), min(int(where[1] * (w - size + 1)), w - size)
    return image[:, top: top + size, left: left + size]


class _SquareAtLoad(Dataset):
    """Items (index, y, x) of a dataset of whole images -> the square at that relative position."""

    def __init__(self, dataset: ImageLMDBDataset, size: int) -> None:
        self.dataset, self.size = dataset, size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, float, float]) -> torch.Tensor:
        index, y, x = item
        return take_square(self.dataset[index], self.size, torch.tensor([y, x]))


class _StepBatches(Sampler[list]):
    def __init__(self, length: int, batch: int, seed: int, start: int, rank: int, world: int,
                 per_load: bool = False) -> None:
        self.length, self.batch, self.seed, self.start, self.rank, self.world = length, batch, seed, start, rank, world
        self.per_load = per_load

    def __iter__(self) -> Iterator[list]:
        step = self.start
        while True:
            idx, _ = global_indices(self.length, self.batch, self.seed, step)
            idx = idx[self.rank:: self.world].tolist()
            if self.per_load:
                where = square_offsets(self.batch, self.seed, step)[self.rank:: self.world].tolist()
                idx = [(i, y, x) for i, (y, x) in zip(idx, where, strict=True)]
            yield idx
            step += 1


class RealImages:
    """Iterator of this rank's (B_local, 3, S, S) float batches in [-1, 1] from step `start` on."""

    def __init__(self, lmdb: str | Path, resolution: int, global_batch: int, seed: int, flip: bool, *,
                 rank: int = 0, world: int = 1, workers: int = 0, start: int = 0,
                 device: torch.device | str = "cpu") -> None:
        self.dataset = ImageLMDBDataset(lmdb, resolution=resolution, uint8=True)
        crop = ((self.dataset.manifest or {}).get("transforms") or {}).get("crop") or {}
        self.per_load = crop.get("mode") == "per-load"
        if self.per_load:
            self.dataset = ImageLMDBDataset(lmdb, resolution=resolution, uint8=True, square=False)
        self.length = len(self.dataset)
        if self.length == 0:
            raise ValueError(f"{self.dataset.path}: the LMDB holds no images")
        self.global_batch, self.seed, self.flip = global_batch, seed, flip
        self.rank, self.world, self.step, self.resolution = rank, world, start, resolution
        self.device = torch.device(device)
        self.memory: torch.Tensor | list[torch.Tensor] | None = None
        if self.length * 3 * resolution * resolution * (2 if self.per_load else 1) <= IN_MEMORY_BYTES:
            images = [self.dataset[i] for i in range(self.length)]
            self.memory = images if self.per_load else torch.stack(images)
            self._loader = None
        else:
            sampler = _StepBatches(self.length, global_batch, seed, start, rank, world, self.per_load)
            source = _SquareAtLoad(self.dataset, resolution) if self.per_load else self.dataset
            self._loader = iter(DataLoader(source, batch_sampler=sampler, num_workers=workers,
                                           pin_memory=self.device.type == "cuda",
                                           persistent_workers=workers > 0))

    def __iter__(self) -> RealImages:
        return self

    def __next__(self) -> torch.Tensor:
        idx, flips = global_indices(self.length, self.global_batch, self.seed, self.step)
        idx, flips = idx[self.rank:: self.world], flips[self.rank:: self.world]
        if isinstance(self.memory, list):  # per-load squares of whole images
            where = square_offsets(self.global_batch, self.seed, self.step)[self.rank:: self.world]
            batch = torch.stack([take_square(self.memory[i], self.resolution, u)
                                 for i, u in zip(idx.tolist(), where, strict=True)])
        else:
            batch = self.memory[idx] if self.memory is not None else next(self._loader)
        batch = batch.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if self.flip:
            flips = flips.to(self.device).view(-1, 1, 1, 1)
            batch = torch.where(flips, batch.flip(3), batch)
        self.step += 1
        return batch

