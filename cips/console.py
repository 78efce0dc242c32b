"""How every `cips` and `cips-report` command ends on bad input: one line on stderr, exit code 2."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(err: Exception | str) -> NoReturn:
    """Print `error: <first line of err>` to stderr and end the command with exit code 2."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(2)
