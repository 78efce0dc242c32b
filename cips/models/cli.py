"""Commands of this subpackage for the `cips` app."""

import typer


def register(app: typer.Typer) -> None:
    """Add this subpackage's commands to `app`."""
