"""Commands of this subpackage for the `cips` app: `cips prepare` and `cips data info`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from cips.config import ConfigError
from cips.console import fail
from cips.data.errors import DataError


def describe_lmdb(path: Path, verify: bool = False) -> str:
    """Readable summary of one environment: path, count, manifest (or a note that it has none)."""
    from cips.data.lmdb_io import content_hash, read_length, read_manifest

    n = read_length(path)
    manifest = read_manifest(path)
    lines = [f"{path}: {n} images"]
    if manifest is None:
        lines.append("  no manifest: an LMDB in the official CIPS layout (prepare_data.py; JPEG values)")
    else:
        lines.append(json.dumps(manifest, indent=2, sort_keys=True))
    if verify:
        sha = content_hash(path)
        expected = (manifest or {}).get("content_sha256")
        verdict = "no recorded hash" if expected is None else ("matches" if sha == expected else "MISMATCH")
        lines.append(f"  content sha256 {sha}: {verdict} the manifest")
        if expected is not None and sha != expected:
            raise DataError(f"{path}: content hash {sha} does not match the manifest's {expected}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add this subpackage's commands to `app`."""

    @app.command("prepare")
    def prepare(
        dataset: str = typer.Argument(..., help="an entry of datasets: in params.yaml"),
        params: Path = typer.Option(Path("params.yaml"), help="the params file"),
        out: Path | None = typer.Option(None, help="output directory (default data/<dataset>/lmdb)"),
        workers: int | None = typer.Option(None, help="processes (default: the dataset's workers param)"),
    ) -> None:
        """Build the LMDB of DATASET (one <resolution>/ environment per resolution)."""
        from cips.data.prepare import prepare_from_params

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            prepare_from_params(dataset, params, out, workers)
        except (ConfigError, DataError) as err:
            fail(err)

    data_app = typer.Typer(help="Inspect image LMDBs.", no_args_is_help=True)

    @data_app.command("info")
    def info(
        path: Path = typer.Argument(
            ..., help="an LMDB directory, or a dataset directory of <resolution>/ LMDBs"
        ),
        verify: bool = typer.Option(
            False, help="recompute the content hash and compare it with the manifest"
        ),
    ) -> None:
        """Print the manifest and image count of an LMDB (ours or the official CIPS layout)."""
        from cips.data.lmdb_io import is_lmdb_dir, resolution_dirs

        try:
            if is_lmdb_dir(path):
                envs = [path]
            else:
                envs = list(resolution_dirs(path).values())
                if not envs:
                    raise DataError(
                        f"{path}: neither an LMDB (data.mdb) nor a directory of <resolution>/ LMDBs"
                    )
            for env in envs:
                typer.echo(describe_lmdb(env, verify))
        except DataError as err:
            fail(err)

    app.add_typer(data_app, name="data")
