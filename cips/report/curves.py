"""reports/<scale>/data/learning_curves.csv: every evaluated model's learning curve in one long table, the data
of DVC's own plot (`dvc plots show`, `dvc plots diff`; the `plots:` section of dvc.yaml)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cips.files import write_bytes_atomic
from cips.report.inputs import ReportInputs

COLUMNS = ("run", "model", "seed", "kimg", "fid", "kid")


def curve_rows(inputs: ReportInputs) -> list[dict]:
    """One row per curve point: the run entry, the model (one seed of it), the seed, kimg, FID and KID."""
    members = inputs.params.members(absent=True)
    rows = []
    for name, out in inputs.runs.items():
        group, seed = members.get(name, (name, None))
        for point in (out.train or {}).get("curve") or []:
            rows.append({"run": group, "model": name, "seed": 0 if seed is None else seed, "kimg": point["kimg"],
                         "fid": point.get("fid"), "kid": point.get("kid")})
    return rows


def write_curves(inputs: ReportInputs, path: str | Path | None = None) -> Path:
    """Write the table (its header alone where no run measured a curve, so that the stage's output exists)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(curve_rows(inputs))
    target = Path(path or inputs.layout.report_data("learning_curves.csv"))
    return write_bytes_atomic(buffer.getvalue().encode(), target)
