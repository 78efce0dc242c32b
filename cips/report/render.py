"""A Table as Markdown, CSV, LaTeX or a rich table; the files under reports/tables/."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.table import Table as RichTable

from cips.files import write_bytes_atomic
from cips.report.tables import Table

FORMATS = ("md", "csv", "tex", "rich")
FILE_FORMATS = ("md", "csv", "tex")


def heading(table: Table) -> str:
    return f"Table {table.number}: {table.title}"


def to_markdown(table: Table, level: int = 3) -> str:
    lines = [f"{'#' * level} {heading(table)}", ""]
    lines += [f"> {note}" + ("  " if i < len(table.notes) - 1 else "") for i, note in enumerate(table.notes)]
    if table.notes:
        lines.append("")
    frame = table.frame().replace({"|": "/"}, regex=False)
    lines.append(frame.to_markdown(index=False, disable_numparse=True))
    if table.footnotes:
        lines.append("")
        lines += [f"{note}  " for note in table.footnotes[:-1]] + table.footnotes[-1:]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """CSV of the display values; the heading notes and footnotes are leading '# ' comment lines
    (pandas: read_csv(path, comment='#'))."""
    buf = io.StringIO()
    for line in [heading(table), *table.notes, *table.footnotes]:
        buf.write(f"# {line}\n")
    table.frame().to_csv(buf, index=False)
    return buf.getvalue()


TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "—": "---",
               "†": r"$^\dagger$", "±": r"$\pm$"}


def tex_escape(text: str) -> str:
    escaped = "".join(TEX_ESCAPES.get(ch, ch) for ch in str(text))
    return re.sub(r"\$\^\\dagger\$(\d+)", r"$^{\\dagger\1}$", escaped)  # numbered daggers: $^{\dagger1}$


def to_tex(table: Table) -> str:
    """A table environment with a tabular (booktabs rules); notes in the caption, footnotes below."""
    cols = table.columns
    lines = [
        r"\begin{table}[t]",
        r"\centering\small",
        r"\caption{" + tex_escape(heading(table) + (". " + ". ".join(table.notes) if table.notes else "")) + "}",
        r"\begin{tabular}{" + "l" * len(cols) + "}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(tex_escape(row.get(c, "")) for c in cols) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\footnotesize " + tex_escape(note) for note in table.footnotes]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_rich(table: Table) -> RichTable:
    title = "\n".join([f"[bold]{heading(table)}[/bold]", *table.notes])  # heading notes above the table
    caption = "\n".join(table.footnotes) or None
    out = RichTable(title=title, title_justify="left", caption=caption, caption_justify="left")
    for col in table.columns:
        out.add_column(col, overflow="fold")
    for row in table.rows:
        out.add_row(*(row.get(c, "") for c in table.columns))
    return out


RENDERERS = {"md": to_markdown, "csv": to_csv, "tex": to_tex}


def render(table: Table, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"format {fmt!r}: one of {', '.join(FILE_FORMATS)} renders to text")
    return RENDERERS[fmt](table)


def write_table_files(table: Table, directory: str | Path) -> list[Path]:
    """reports/tables/table<N>.{md,csv,tex}, each written atomically."""
    directory = Path(directory)
    return [write_bytes_atomic(render(table, fmt).encode(), directory / f"table{table.number}.{fmt}")
            for fmt in FILE_FORMATS]
