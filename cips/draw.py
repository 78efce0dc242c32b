"""Matplotlib helpers shared by the report's figures (`cips.report.figures`) and the per-pixel figures
(`cips.beyond.figures`): a title and caption placed in inches around axes, the scale sentence that opens a
caption, and writing a figure as PNG and PDF.

Figures use matplotlib's object API (`matplotlib.figure.Figure`): no backend to select, no global state.
This module imports nothing of the report or of the paper, so code drawing figures depends on neither.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from cips.files import write_bytes_atomic

FORMATS = ("png", "pdf")


def scale_prefix(scale: str, comparable: bool) -> str:
    """The sentence opening every caption of a scale whose numbers are not the paper's ("" when they are)."""
    return "" if comparable else f"{scale.upper()} scale, not comparable with the paper. "


def save(fig: Figure, directory: Path, name: str) -> list[Path]:
    """`name`.png and `name`.pdf, each written atomically (temporary file, then rename)."""
    paths = []
    for fmt in FORMATS:
        buf = io.BytesIO()
        # no matplotlib version or creation date: the same figure gives the same bytes
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight", metadata=metadata)
        paths.append(write_bytes_atomic(buf.getvalue(), directory / f"{name}.{fmt}"))
    return paths


def caption(fig: Figure, ax, title: str, text: str, above: float = 0.45, below: float = 0.12) -> None:
    """Title `above` inches over and caption `below` inches under the axes `ax` (centred on the figure), so
    no empty band separates them from the plot whatever its aspect."""
    base = blended_transform_factory(fig.transFigure, ax.transAxes)
    fig.text(0.5, 1.0, title, fontsize=11, ha="center", va="bottom",
             transform=base + ScaledTranslation(0, above, fig.dpi_scale_trans))
    fig.text(0.5, 0.0, textwrap.fill(text, 110), fontsize=7.5, ha="center", va="top",
             transform=base + ScaledTranslation(0, -below, fig.dpi_scale_trans))


def caption_around(fig: Figure, top, bottom, title: str, text: str, above: float = 0.35,
                   below: float = 0.12) -> None:
    """Title `above` inches over axes `top`, caption `below` inches under axes `bottom` (multi-row figures)."""
    t = blended_transform_factory(fig.transFigure, top.transAxes)
    fig.text(0.5, 1.0, title, fontsize=11, ha="center", va="bottom",
             transform=t + ScaledTranslation(0, above, fig.dpi_scale_trans))
    b = blended_transform_factory(fig.transFigure, bottom.transAxes)
    fig.text(0.5, 0.0, textwrap.fill(text, 110), fontsize=7.5, ha="center", va="top",
             transform=b + ScaledTranslation(0, -below, fig.dpi_scale_trans))
