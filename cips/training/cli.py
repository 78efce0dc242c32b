"""Commands of this subpackage for the `cips` app."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this subpackage's commands to `app`."""

    @app.command("train")
    def train_command(
        run: str = typer.Argument(..., help="an entry of runs: in the params file"),
        params: Path = typer.Option(Path("params.yaml"), help="params file"),
        root: Path = typer.Option(Path("."), help="project root (data/ and runs/ live here)"),
        track: bool = typer.Option(True, help="log to MLflow"),
    ) -> None:
        """Train RUN (what stage train@RUN runs; resumes a compatible checkpoint)."""
        from cips.training import runner

        code = runner.train_command(run, params, root, track=track)
        if code:
            raise typer.Exit(code)
