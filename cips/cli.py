"""The `cips` command line: one typer app; each subpackage registers its own commands."""

import typer

from cips.data.cli import register as register_data
from cips.metrics.cli import register as register_metrics
from cips.models.cli import register as register_models
from cips.training.cli import register as register_training

app = typer.Typer(help="CIPS reproduction: prepare data, train, evaluate, sample.", no_args_is_help=True)
for register in (register_models, register_data, register_training, register_metrics):
    register(app)

if __name__ == "__main__":
    app()
