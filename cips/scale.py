"""Switch the pipeline between scales: params.yaml is a copy of configs/<scale>.yaml."""

from __future__ import annotations

from pathlib import Path

from cips.config import ConfigError, load_params
from cips.files import write_bytes_atomic

SCALES = ("demo", "paper")


def use_scale(scale: str, root: str | Path = ".") -> Path:
    """Validate configs/<scale>.yaml and copy it over params.yaml (atomically)."""
    root = Path(root)
    src = root / "configs" / f"{scale}.yaml"
    if scale not in SCALES:
        raise ConfigError(f"scale: {scale!r} is not one of {', '.join(SCALES)}")
    load_params(src)  # refuse a broken file before touching params.yaml
    return write_bytes_atomic(src.read_bytes(), root / "params.yaml")
