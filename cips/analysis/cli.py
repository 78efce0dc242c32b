"""Analysis commands: `cips spectrum`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from cips.console import fail


def spectrum(
    images: Path = typer.Argument(..., help="image folder or LMDB"),
    out: Path = typer.Option(
        ..., "--out", help="output .npz (mean_spectrum, profile, profile_std, radii, ...)"
    ),
    name: str = typer.Option(None, "--name", help="name of this set in the file (default: the folder name)"),
    n: int = typer.Option(None, "--n", help="use the first N images (default: all)"),
    batch: int = typer.Option(64, "--batch"),
    log_base: str = typer.Option("e", "--log-base", help="e, 10, 2 or none"),
    log_scale: float = typer.Option(20.0, "--log-scale"),
    dc: str = typer.Option("keep", "--dc", help="keep, subtract-mean, exclude"),
    radius: str = typer.Option("nyquist", "--radius", help="nyquist or corner"),
    normalise: str = typer.Option("dc", "--normalise", help="dc, none, max"),
    plot: Path = typer.Option(None, "--plot", help="also draw the mean spectrum and profile into this PNG"),
) -> None:
    """Mean log-magnitude spectrum and azimuthal profile of an image set (as in Fig. 7)."""
    from cips.analysis.spectrum import SpectrumParams, caption, save_spectra, spectrum_of
    from cips.metrics.features import iter_dataset, open_images

    try:
        p = SpectrumParams(log_base=log_base, log_scale=log_scale, dc=dc, radius=radius, normalise=normalise)
        ds = open_images(images)
        count = len(ds) if n is None else min(n, len(ds))
        result = spectrum_of(iter_dataset(ds, range(count), batch), p, total=count)
        label = name or images.name
        save_spectra(out, {label: result})
        if plot is not None:
            plot_spectra({label: result}, plot)
    except (FileNotFoundError, ValueError) as err:
        fail(err)
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "name": label,
                "n": result.n,
                "params": dataclasses.asdict(p),
                "caption": caption(p, result.n),
            },
            indent=2,
        )
    )


def plot_spectra(results: dict, path: Path) -> None:
    """Mean spectra (one colour scale) and profiles of named spectrum results, as one PNG."""
    import io

    from matplotlib.figure import Figure  # the object API: no backend to select, no global state

    from cips.analysis.spectrum import caption
    from cips.files import write_bytes_atomic

    n = len(results)
    fig = Figure(figsize=(3.2 * (n + 1), 3.4))
    axes = fig.subplots(1, n + 1)
    maps = [r.mean_spectrum for r in results.values()]
    vmin, vmax = min(float(m.min()) for m in maps), max(float(m.max()) for m in maps)
    for ax, (label, r) in zip(axes[:n], results.items(), strict=True):
        ax.imshow(r.mean_spectrum, cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_title(label)
        ax.axis("off")
    for label, r in results.items():
        axes[n].plot(r.radii, r.profile, label=label)
    axes[n].set_xlabel("radius (cycles per image)")
    axes[n].set_ylabel("azimuthal mean")
    axes[n].legend(fontsize=8)
    first = next(iter(results.values()))
    fig.text(0.01, 0.01, caption(first.params, first.n), fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    write_bytes_atomic(buf.getvalue(), path)


def register(app: typer.Typer) -> None:
    """Add this subpackage's commands to `app`."""
    app.command("spectrum")(spectrum)
