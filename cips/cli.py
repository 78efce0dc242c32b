"""The `cips` command line: one typer app; each subpackage registers its own commands."""

import typer

from cips.analysis.cli import register as register_analysis
from cips.beyond.cli import register as register_beyond
from cips.config import USER_SCALES
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
def scale(name: str = typer.Argument(None, help=" | ".join(USER_SCALES)),
          refresh: bool = typer.Option(False, "--refresh", help="regenerate the dvc: section of params.yaml "
                                                               "(after editing its runs or datasets)"),
          datasets: str = typer.Option(None, help="only these datasets (comma-separated, e.g. ffhq): the others "
                                                   "get enabled: false, their runs leave the graph")) -> None:
    """Switch params.yaml to another scale (configs/<name>.yaml plus its generated dvc: section); then `dvc repro`."""
    from cips.config import ConfigError
    from cips.console import fail
    from cips.layout import scale_config
    from cips.scale import use_scale

    if (name is None) != refresh:
        fail(f"give a scale ({' | '.join(USER_SCALES)}) or --refresh")
    try:
        path = use_scale(name, datasets=[d for d in datasets.split(",") if d] if datasets else None)
    except ConfigError as err:
        fail(err)
    what = f"the {name} scale ({scale_config('', name)})" if name else "a regenerated dvc: section"
    typer.echo(f"{path} now holds {what}; run `dvc repro`")

if __name__ == "__main__":
    app()
