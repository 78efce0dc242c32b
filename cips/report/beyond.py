"""The report's "Beyond the tables": the per-pixel figures rendered from reports/data/beyond.npz into
reports/<scale>/figures/, and their section of reports/README.md. `cips.beyond.figures` draws them.
"""

from __future__ import annotations

import logging

from cips.beyond.figures import SECTION, TITLES, figures_of, load, meta_of, title_of
from cips.draw import save, scale_prefix
from cips.report.inputs import ReportInputs

log = logging.getLogger("cips.report")


def render_beyond(inputs: ReportInputs) -> list[str]:
    """Render reports/figures/fig*_<name>.{png,pdf} from reports/data/beyond.npz; names written."""
    path = inputs.layout.report_data("beyond.npz")
    if not path.is_file():
        log.info("beyond figures: skipped (no %s; run `dvc repro beyond`)", path)
        return []
    try:
        d = load(path)
    except (OSError, ValueError) as err:
        log.warning("%s: unreadable (%s); the per-pixel figures are skipped", path, err)
        return []
    made = []
    for name, fig in figures_of(d, scale_prefix(inputs.scale, inputs.comparable_scale)).items():
        save(fig, inputs.layout.figures, name)
        made.append(name)
    return made


def beyond_figures(figures: list[str]) -> list[str]:
    """The per-pixel figures among rendered figure names."""
    return [f for f in figures if any(f == b or f.startswith(b + "_") for b in TITLES)]


def section_markdown(inputs: ReportInputs, figures: list[str]) -> list[str]:
    """The "Beyond the tables" section of reports/README.md: the per-pixel figures and what was skipped."""
    names = beyond_figures(figures)
    path = inputs.layout.report_data("beyond.npz")
    notes = {}
    if path.is_file():
        try:
            notes = meta_of(load(path), "meta").get("notes", {})
        except (OSError, ValueError):
            notes = {}
    lines = ["## Beyond the tables", "",
             "What only a per-pixel generator can do (the paper's Figs. 8-11, 15, 17-19), rendered by the "
             "`beyond` stage from the runs of this scale; the `cips` commands (docs/commands.md) draw the same "
             "figures for any checkpoint.", ""]
    for name in names:
        title = title_of(name)
        lines += [f"### {title}", "", f"![{title}](figures/{name}.png)", "", f"[PDF](figures/{name}.pdf)", ""]
    for key, note in notes.items():
        lines += [f"- {TITLES[SECTION[key]]}: not drawn at this scale ({note}).", ""]
    if not path.is_file():
        lines += ["Not available yet (run `dvc repro beyond`).", ""]
    return lines
