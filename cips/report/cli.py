"""The `cips-report` command line."""

import typer

app = typer.Typer(help="Tables and figures of the CIPS reproduction.", no_args_is_help=True)


@app.command()
def tables() -> None:
    """Print Tables 1-5 (published values beside ours)."""
    raise typer.Exit(code=1)
