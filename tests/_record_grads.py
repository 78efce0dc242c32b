"""Helper of tests/test_training.py, not a test: train each RUN of ./params.yaml for STEPS steps (one process,
or one rank under torchrun) and save, from rank 0, the gradients each optimizer step applied (after the
all-reduce), in order, to OUT as {run: [(optimizer, gradients), ...]}. Several runs share one launch, whose
start-up (torch, a process group) is most of a tiny run's time.

    python tests/_record_grads.py RUN[,RUN...] OUT STEPS
"""

from __future__ import annotations

import sys

import torch

from cips.layout import Layout
from cips.scale import load_params
from cips.training import distributed as dist_utils
from cips.training.loop import Trainer


def record(run: str, steps: int) -> tuple[list[tuple[str, dict[str, torch.Tensor]]], dist_utils.World]:
    """The gradients of `run`'s first `steps` steps, and the process group (the runs share it: built once)."""
    params = load_params("params.yaml")
    cfg, layout = params.run(run), Layout(".", params.scale)
    t = Trainer(cfg, layout.lmdb(cfg.dataset), layout.run(run), params.scale, track=False, progress=False)
    records: list[tuple[str, dict[str, torch.Tensor]]] = []
    for name, opt, net in (("D", t.d_opt, t.D), ("G", t.g_opt, t.G)):
        def recording(*args, _step=opt.step, _name=name, _net=net, **kwargs):
            grads = {k: p.grad.detach().clone() for k, p in _net.named_parameters() if p.grad is not None}
            records.append((_name, grads))
            return _step(*args, **kwargs)

        opt.step = recording
    for _ in range(steps):
        t.train_step()
    return records, t.world


def main(runs: str, out: str, steps: int) -> None:
    results = {run: record(run, steps) for run in runs.split(",")}
    world = next(iter(results.values()))[1]
    if world.is_main:
        torch.save({run: records for run, (records, _) in results.items()}, out)
    dist_utils.shutdown(world)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
