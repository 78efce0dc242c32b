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

    @app.command("park")
    def park_command(
        params: Path = typer.Option(Path("params.yaml"), help="params file"),
        root: Path = typer.Option(Path("."), help="project root"),
        store: str = typer.Option(None, help="git or dvc (default: dvc where a DVC remote is set, else git)"),
    ) -> None:
        """Stage the checkpoints of unfinished runs for the next commit (parked/<scale>/: the files in git, or in
        DVC with a push where a remote is set), so training continues from them on another day or machine;
        release those of runs that have finished."""
        from cips.training.lanes import park

        try:
            parked, released = park(params, root, store)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--store") from None
        for path in parked:
            typer.echo(f"parked {path} (commit parked/; `cips lanes` continues the run from it)")
        for path in released:
            typer.echo(f"released {path} (its run has finished)")
        if not parked and not released:
            typer.echo("nothing to park: no unfinished run has a checkpoint")

    @app.command("lanes")
    def lanes_command(
        jobs: int = typer.Option(2, "--jobs", "-j", help="models trained at once (one thread each on 2 cores)"),
        models: list[str] = typer.Argument(None, help="models to run (default: every unfinished one)"),
        params: Path = typer.Option(Path("params.yaml"), help="params file"),
        root: Path = typer.Option(Path("."), help="project root"),
        devices: str = typer.Option(None, help="GPUs to use, e.g. 0-7: one lane per --per-run of them (sets -j)"),
        per_run: int = typer.Option(1, "--per-run", help="GPUs per model with --devices (its train.nproc)"),
    ) -> None:
        """Resolve, train and evaluate the scale's unfinished models JOBS at a time (or one lane per PER_RUN
        of DEVICES), then `dvc commit` them."""
        import logging

        from cips.training.lanes import STOPPED, parse_devices, run_lanes

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            gpus = parse_devices(devices) if devices else None
            codes = run_lanes(jobs, params, root, models or None, devices=gpus, per_run=per_run)
        except ValueError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        stopped = [m for m, c in codes.items() if c == STOPPED]
        if stopped:  # a clean stop: their checkpoints are parked, and the next `cips lanes` continues them
            typer.echo(f"stopped before finishing: {', '.join(stopped)}", err=True)
        failed = [m for m, c in codes.items() if c and c != STOPPED]
        if failed:
            typer.echo(f"error: failed: {', '.join(failed)} (logs under logs/lanes/<scale>/)", err=True)
            raise typer.Exit(1)
        if stopped:
            raise typer.Exit(STOPPED)

