"""What every stage's command shares: its options, logging, and one error line for bad input.

    main = stage_main("stages.X", __doc__, work, arg="run")   # python -m stages.X RUN [--params P] [--root R]

`work(args)` does the stage's work and returns the line to print (or an exit code). A bad param, a missing
file or bad data ends the command with that one line (`error: ...`) and exit code 2; nothing half-written is
left behind, because every output is written atomically.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from cips.config import ConfigError

# ConfigError is a ValueError and the data pipeline's DataError a RuntimeError; both are named for the reader
BAD_INPUT = (ConfigError, FileNotFoundError, ValueError, RuntimeError)


def stage_main(module: str, doc: str, work: Callable[[argparse.Namespace], str | int | None], *, arg: str | None = None,
               arg_help: str = "", out: str | None = None, track: bool = False,
               options: dict[str, dict] | None = None) -> Callable[[list[str] | None], int]:
    """The `main(argv) -> exit code` of a stage module: `arg` a positional (run or dataset), `out` the help
    of an --out option, `track` adds --no-track (MLflow off), `options` more options ({flag: add_argument
    keywords})."""
    def main(argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
        if arg:
            parser.add_argument(arg, help=arg_help)
        parser.add_argument("--params", default="params.yaml")
        parser.add_argument("--root", default=".", help="project root")
        if out is not None:
            parser.add_argument("--out", default=None, help=out)
        if track:
            parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
        for flag, kwargs in (options or {}).items():
            parser.add_argument(flag, **kwargs)
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        try:
            result = work(args)
        except BAD_INPUT as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if isinstance(result, int):
            return result
        if result:
            print(result)
        return 0

    return main
