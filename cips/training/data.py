"""Batches of real images for training, identical for any number of ranks.

Each step draws the indices (with replacement) and flips of the *global* batch from a generator seeded
by (seed, step); rank r takes samples r, r + world, r + 2 world, ... A run is therefore reproducible,
resumes exactly at any step without saving sampler state, and N processes see the same images as one
process with the same global batch (the strided split also keeps minibatch-stddev groups intact).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Sampler

from cips.data.dataset import ImageLMDBDataset

IN_MEMORY_BYTES = 1 << 30  # datasets up to 1 GiB of uint8 pixels are read once into memory


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """The generator of all random draws of one step (latents, patches, reals) for one stream."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 8 + stream)


def global_indices(length: int, batch: int, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and flip flags of the global batch of `step`."""
    g = step_generator(seed, step, stream=1)
    return torch.randint(0, length, (batch,), generator=g), torch.rand(batch, generator=g) < 0.5


class _StepBatches(Sampler[list[int]]):
    def __init__(self, length: int, batch: int, seed: int, start: int, rank: int, world: int) -> None:
        self.length, self.batch, self.seed, self.start, self.rank, self.world = length, batch, seed, start, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while True:
            idx, _ = global_indices(self.length, self.batch, self.seed, step)
            yield idx[self.rank:: self.world].tolist()
            step += 1


class RealImages:
    """Iterator of this rank's (B_local, 3, S, S) float batches in [-1, 1] from step `start` on."""

    def __init__(self, lmdb: str | Path, resolution: int, global_batch: int, seed: int, flip: bool, *,
                 rank: int = 0, world: int = 1, workers: int = 0, start: int = 0,
                 device: torch.device | str = "cpu") -> None:
        self.dataset = ImageLMDBDataset(lmdb, resolution=resolution, uint8=True)
        self.length = len(self.dataset)
        if self.length == 0:
            raise ValueError(f"{self.dataset.path}: the LMDB holds no images")
        self.global_batch, self.seed, self.flip = global_batch, seed, flip
        self.rank, self.world, self.step = rank, world, start
        self.device = torch.device(device)
        self.memory: torch.Tensor | None = None
        if self.length * 3 * resolution * resolution <= IN_MEMORY_BYTES:
            self.memory = torch.stack([self.dataset[i] for i in range(self.length)])
            self._loader = None
        else:
            sampler = _StepBatches(self.length, global_batch, seed, start, rank, world)
            self._loader = iter(DataLoader(self.dataset, batch_sampler=sampler, num_workers=workers,
                                           pin_memory=self.device.type == "cuda",
                                           persistent_workers=workers > 0))

    def __iter__(self) -> RealImages:
        return self

    def __next__(self) -> torch.Tensor:
        idx, flips = global_indices(self.length, self.global_batch, self.seed, self.step)
        idx, flips = idx[self.rank:: self.world], flips[self.rank:: self.world]
        batch = self.memory[idx] if self.memory is not None else next(self._loader)
        batch = batch.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if self.flip:
            flips = flips.to(self.device).view(-1, 1, 1, 1)
            batch = torch.where(flips, batch.flip(3), batch)
        self.step += 1
        return batch

