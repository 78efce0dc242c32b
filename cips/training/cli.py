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

    @app.command("lanes")
    def lanes_command(
        jobs: int = typer.Option(2, "--jobs", "-j", help="models trained at once (one thread each on 2 cores)"),
        models: list[str] = typer.Argument(None, help="models to run (default: every unfinished one)"),
        params: Path = typer.Option(Path("params.yaml"), help="params file"),
        root: Path = typer.Option(Path("."), help="project root"),
    ) -> None:
        """Resolve, train and evaluate the scale's unfinished models JOBS at a time, then `dvc commit` them."""
        import logging

        from cips.training.lanes import run_lanes

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        codes = run_lanes(jobs, params, root, models or None)
        failed = [m for m, c in codes.items() if c]
        if failed:
            typer.echo(f"error: failed: {', '.join(failed)} (logs under logs/lanes/<scale>/)", err=True)
            raise typer.Exit(1)

