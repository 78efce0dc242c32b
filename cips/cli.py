"""The `cips` command line: one typer app; each subpackage registers its own commands."""

import typer

from cips.analysis.cli import register as register_analysis
from cips.beyond.cli import register as register_beyond
from cips.data.cli import register as register_data
from cips.metrics.cli import register as register_metrics
from cips.models.cli import register as register_models
from cips.training.cli import register as register_training

app = typer.Typer(help="CIPS reproduction: prepare data, train, evaluate, sample.", no_args_is_help=True)


@app.callback()
def _entry() -> None:
    """CIPS reproduction: prepare data, train, evaluate, sample."""
    from cips.runtime import tune_allocator

    tune_allocator()  # opt-in (CIPS_HEAP_REUSE=1), at the entry point rather than on import


for register in (register_models, register_data, register_training, register_metrics, register_analysis,
                 register_beyond):
    register(app)



@app.command("scale")
def scale(name: str = typer.Argument(None, help="demo | small | paper"),
          refresh: bool = typer.Option(False, "--refresh", help="regenerate the dvc: section of params.yaml "
                                                               "(after editing its runs or datasets)")) -> None:
    """Switch params.yaml to another scale (configs/<name>.yaml plus its generated dvc: section); then `dvc repro`."""
    from cips.config import ConfigError
    from cips.scale import use_scale

    if (name is None) != refresh:
        typer.echo("error: give a scale (demo | small | paper) or --refresh", err=True)
        raise typer.Exit(2)
    try:
        path = use_scale(name)
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    what = f"the {name} scale (configs/{name}.yaml)" if name else "a regenerated dvc: section"
    typer.echo(f"{path} now holds {what}; run `dvc repro`")


if __name__ == "__main__":
    app()
