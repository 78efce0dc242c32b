"""Stage train@<run>: train one run of params.yaml into runs/<run>/generator.pt and runs/<run>/train.json.

    python -m stages.train RUN [--params params.yaml] [--root .] [--no-track] [--nproc N]
    torchrun --nnodes=2 --nproc_per_node=8 ... -m stages.train RUN     # several machines: the launcher's world

With train.nproc (or --nproc) N > 1 the stage starts N processes itself (torch.distributed.run, one per
GPU or N gloo processes on CPU); the global batch stays train.batch.

generator.pt is the EMA generator with the run's identity (a finished run is not retrained while it
matches); runs/<run>/checkpoint.pt, the full training state, is continued when compatible (resume after a
kill); SIGTERM/SIGINT save it before exiting (`cips.training.runner.train_command`, which `cips train` runs
too).
"""

from __future__ import annotations

import sys

from stages.entry import stage_main


def work(args) -> int:
    from cips.training.runner import train_command

    return train_command(args.run, args.params, args.root, track=not args.no_track, nproc=args.nproc)


main = stage_main("stages.train", __doc__, work, arg="run", arg_help="an entry of runs: in params.yaml", track=True,
                  options={"--nproc": {"type": int, "default": None,
                                       "help": "processes for this run (default: train.nproc); operational"}})

if __name__ == "__main__":
    sys.exit(main())
