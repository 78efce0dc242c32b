"""Data-parallel training over processes started by torch.distributed.run (nccl with CUDA, gloo without).

Gradients are averaged by DistributedDataParallel, whose bucketed all-reduce overlaps the backward pass.
R1's double backward runs through it too: the penalty's gradient with respect to the reals is taken with
autograd.grad (no parameter gradients, so no all-reduce), and the one backward of the total loss then
reduces every parameter's gradient once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def init_from_env(device_kind: str) -> World:
    """Join the process group torchrun describes in the environment; a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return World(rank=rank, size=size, local_rank=local_rank)


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """`module` in DistributedDataParallel across the ranks (itself on one process). Buffers are constants of
    the architecture (grids, filters), identical on every rank, so they are not broadcast."""
    if not world.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


def mean_scalar(value: torch.Tensor, world: World) -> torch.Tensor:
    """A loss averaged over ranks (for logging)."""
    if not world.distributed:
        return value
    v = value.detach().clone()
    dist.all_reduce(v)
    return v / world.size


def max_divergence(module: nn.Module, world: World) -> float:
    """Largest absolute difference between this rank's weights and rank 0's (0.0 on one process)."""
    if not world.distributed:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    diff = (flat - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff)
