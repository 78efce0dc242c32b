"""Commands of this subpackage for the `cips` app."""

from __future__ import annotations

import logging
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
        """Train RUN (same as `python -m stages.train RUN`; resumes a compatible checkpoint)."""
        from cips.config import ConfigError
        from cips.training.loop import TrainingDiverged, TrainingInterrupted
        from cips.training.runner import train_from_params

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            result = train_from_params(run, params, root, track=track)
        except TrainingInterrupted as err:
            typer.echo(f"interrupted: {err}", err=True)
            raise typer.Exit(143) from None
        except (ConfigError, FileNotFoundError, TrainingDiverged, ValueError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{run}: step {result.step}/{result.steps}, {result.img_per_s:.1f} img/s, "
                   f"{result.wall_time_s:.1f} s")
