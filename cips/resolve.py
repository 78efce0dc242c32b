"""The resolved configuration of a run, written as the files its train and evaluate stages depend on."""

from __future__ import annotations

import json
from pathlib import Path

from cips.config import load_params, resolved_run
from cips.files import write_bytes_atomic
from cips.layout import Layout


def resolve_from_params(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".") -> list[Path]:
    """Write runs/<run>/resolved/{train,eval}.json (sorted keys, so equal configs give equal bytes)."""
    params = load_params(params_path)
    layout = Layout(root, params.scale)
    parts = resolved_run(params, run)
    paths = []
    for part, data in parts.items():
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        paths.append(write_bytes_atomic(text.encode(), layout.resolved(run, part)))
    return paths
