"""The `cips-report` command line: tables, figures, the report page, and MLflow runs."""

from __future__ import annotations

import logging

import typer

from cips.console import fail

app = typer.Typer(help="Tables and figures of the CIPS reproduction.", no_args_is_help=True)

PARAMS = typer.Option("params.yaml", "--params", help="params.yaml to read (relative: to --root if not here)")
ROOT = typer.Option(".", "--root", help="project root holding runs/ and reports/")
SCALE = typer.Option(None, "--scale", help="demo | small | paper | test (default: params.yaml's scale; another "
                                           "scale reads configs/<scale>.yaml and its own runs/ and reports/)")


def _inputs(params: str, root: str, scale: str | None):
    from cips.config import SCALES, ConfigError
    from cips.report.inputs import ScaleMismatch, load_inputs

    if scale is not None and scale not in SCALES:
        fail(ValueError(f"--scale {scale!r}: one of {', '.join(SCALES)}"))
    try:
        return load_inputs(params, root, scale)
    except (ConfigError, ScaleMismatch, ValueError) as err:
        fail(err)


def _console():
    from rich.console import Console

    console = Console()
    return Console(width=max(console.width, 200)) if not console.is_terminal else console


@app.command()
def claims(
    fmt: str = typer.Option("md", "--format", "-f", help="md | json"),
    scale: str | None = SCALE,
    params: str = PARAMS,
    root: str = ROOT,
) -> None:
    """The paper's claims, judged by docs/claims.md: statistic, 90% interval over seeds, test, margin and its
    derivation, verdict, Holm verdict, and the verdicts at half and twice the margin and at the 95% interval."""
    from cips.report.claims import all_claims, to_json, to_markdown

    if fmt not in ("md", "json"):
        fail(ValueError(f"--format {fmt!r}: one of md, json"))
    inputs = _inputs(params, root, scale)
    found = all_claims(inputs)
    typer.echo(to_json(found) if fmt == "json" else to_markdown(found, inputs.scale), nl=False)


@app.command()
def tables(
    table: int | None = typer.Option(None, "--table", "-t", help="one table (1-5); default all"),
    fmt: str = typer.Option("md", "--format", "-f", help="md | csv | tex | rich"),
    scale: str | None = SCALE,
    params: str = PARAMS,
    root: str = ROOT,
) -> None:
    """Print Tables 1-5 (published values beside ours) and write reports/tables/table<N>.{md,csv,tex}."""
    from cips.report.render import FORMATS, render, to_rich, write_table_files
    from cips.report.tables import TABLES, build_tables

    if fmt not in FORMATS:
        fail(ValueError(f"--format {fmt!r}: one of {', '.join(FORMATS)}"))
    if table is not None and table not in TABLES:
        fail(ValueError(f"--table {table}: one of {', '.join(map(str, TABLES))}"))
    inputs = _inputs(params, root, scale)
    built = build_tables(inputs, (table,) if table else TABLES)
    console = _console()
    for t in built:
        write_table_files(t, inputs.layout.tables)
        if fmt == "rich":
            console.print(to_rich(t))
        else:
            typer.echo(render(t, fmt))


@app.command()
def figures(scale: str | None = SCALE, params: str = PARAMS, root: str = ROOT) -> None:
    """Render the figures into reports/<scale>/figures/ (PNG and PDF); missing inputs are skipped."""
    from cips.report.figures import render_figures

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    inputs = _inputs(params, root, scale)
    made = render_figures(inputs)
    typer.echo(f"{len(made)} figures in {inputs.layout.figures}")


@app.command()
def build(scale: str | None = SCALE, params: str = PARAMS, root: str = ROOT) -> None:
    """The DVC `report` stage: reports/<scale>/tables/*, figures/* and README.md."""
    from cips.report.page import build_report

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    inputs = _inputs(params, root, scale)
    page = build_report(inputs)
    typer.echo(f"wrote {page}")


@app.command()
def runs(
    root: str = ROOT,
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="only experiments whose name has this"),
) -> None:
    """List the MLflow runs: name, dataset, flags, steps, FID, wall time."""
    from cips.report.mlflow_runs import TrackingError, runs_table, search

    try:
        frame = search(root, experiment)
    except TrackingError as err:
        fail(err)
    if frame.empty:
        typer.echo("no MLflow runs")
        return
    _console().print(runs_table(frame))


@app.command()
def compare(a: str = typer.Argument(..., help="run name or id"), b: str = typer.Argument(..., help="run name or id"),
            root: str = ROOT) -> None:
    """The difference of two MLflow runs: parameters that differ, and every metric of either."""
    from cips.report.mlflow_runs import TrackingError, compare_table, search

    try:
        table = compare_table(search(root), a, b)
    except TrackingError as err:
        fail(err)
    _console().print(table)


if __name__ == "__main__":
    app()
