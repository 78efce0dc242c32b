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
def evidence(
    write: bool = typer.Option(False, "--write", help="refresh README.md's blocks instead of printing them"),
    scale: str | None = typer.Option("small", "--scale", help="the scale whose verdicts the README leads with"),
    params: str = PARAMS,
    root: str = ROOT,
) -> None:
    """README.md's generated blocks from the committed results: the evidence, one line per claim, and the
    committed models (`cips-report build` at the small scale refreshes them)."""
    from cips.report.evidence import blocks, refresh_readme

    inputs = _inputs(params, root, scale)
    if not write:
        typer.echo("\n".join(blocks(inputs).values()), nl=False)
        return
    try:
        written = refresh_readme(inputs)
    except ValueError as err:
        fail(err)
    typer.echo(f"wrote the generated blocks of {written}" if written else
               "nothing written: README.md's blocks are the small scale's, between their markers")


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
def compare(a: str = typer.Argument(..., help="run entry of the scale (e.g. fashion-myflag-long), or an MLflow run"),
            b: str = typer.Argument(..., help="the run entry (or MLflow run) to compare with, e.g. fashion-base-long"),
            better: bool = typer.Option(False, "--better", help="test that A is better (lower FID), not worse"),
            metric: str = typer.Option("fid", "--metric", help="fid | kid | precision | recall"),
            scale: str | None = SCALE, params: str = PARAMS, root: str = ROOT) -> None:
    """Two run entries of the scale with evaluated models: the difference of their seeds' means with its 90% Welch
    interval, the one-sided verdict, n and the power column, judged as the paper's claims are (docs/claims.md).
    Otherwise two MLflow runs: the parameters that differ, and every metric of either."""
    from cips.config import ConfigError
    from cips.report.claims import caveat, compare_groups
    from cips.report.inputs import ScaleMismatch, load_inputs

    try:
        inputs = load_inputs(params, root, scale)
    except (ConfigError, ScaleMismatch, ValueError, FileNotFoundError):
        inputs = None  # not in a project: A and B name MLflow runs
    groups = inputs is not None and a in inputs.params.runs and b in inputs.params.runs and any(
        m in inputs.evaluated() for run in (a, b) for m in inputs.params.members_of(run))
    if groups:
        try:
            c = compare_groups(inputs, a, b, metric, worse=not better)
        except ValueError as err:
            fail(err)
        n = ", ".join(f"{k} n = {v['n']} (mean {v['mean']:g})" for k, v in c.values.items())
        lines = [f"claim: {c.claim}", f"{c.statistic}; {n}",
                 "90% interval: none (a group has one seed)" if c.interval is None
                 else f"90% interval: [{c.interval[0]:.4g}, {c.interval[1]:.4g}]",
                 f"verdict (one-sided test at 5%): {c.verdict}; at the 95% interval: {c.verdict_95}"]
        if c.detectable and c.detectable[0] is not None:
            lines.append(f"finds with 80% power at this n: a true difference of {c.detectable[0]:.4g} or more")
        lines.append(f"budget: {c.budget}")
        if c.moving:
            lines.append(f"caveat: {caveat(c.moving)}")
        typer.echo("\n".join(lines))
        return
    from cips.report.mlflow_runs import TrackingError, compare_table, search

    try:
        table = compare_table(search(root), a, b)
    except TrackingError as err:
        fail(err)
    _console().print(table)


if __name__ == "__main__":
    app()
