"""Data-parallel training over processes started by torchrun (nccl with CUDA, gloo without).

Gradients are averaged by hand after each backward pass instead of wrapping the modules in
DistributedDataParallel: the R1 penalty needs a double backward, which DDP's hooks do not support.
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


def average_gradients(module: nn.Module, world: World) -> None:
    """All-reduce the gradients of `module` to their mean over ranks (one flat buffer, one call)."""
    if not world.distributed:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset: offset + n].view_as(g))
        offset += n


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
