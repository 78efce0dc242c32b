"""What the report reads: params.yaml and the per-run outputs (metrics.json, train.json, sample grids).

Every input may be missing; a missing one is None. Metrics written at another scale than the report's
are refused (ScaleMismatch), so a table never mixes demo and paper numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cips.config import Params
from cips.layout import Layout, scale_config
from cips.scale import load_params


class ScaleMismatch(ValueError):
    """A run's outputs were produced at another scale than the report's."""


@dataclass
class RunOutputs:
    """The files one run left under runs/<run>/ (None where absent)."""

    name: str
    metrics: dict | None = None
    train: dict | None = None
    samples: Path | None = None

    @property
    def step(self) -> int | None:
        if self.train and self.train.get("step") is not None:
            return int(self.train["step"])
        if self.metrics:
            return (self.metrics.get("checkpoint") or {}).get("step")
        return None


@dataclass
class ReportInputs:
    """params.yaml plus the outputs of every run it declares, at one scale."""

    params: Params
    root: Path
    scale: str
    runs: dict[str, RunOutputs] = field(default_factory=dict)
    seed_limit: int | None = None  # a view of each run's first seeds only (cips.report.claims.first_seeds)

    @property
    def layout(self) -> Layout:
        return Layout(self.root, self.scale)

    @property
    def comparable_scale(self) -> bool:
        return self.scale == "paper"

    def evaluated(self) -> dict[str, RunOutputs]:
        return {name: out for name, out in self.runs.items() if out.metrics is not None}


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def read_run(root: Path, name: str, scale: str) -> RunOutputs:
    layout = Layout(root, scale)
    samples = layout.eval_samples(name)
    return RunOutputs(
        name=name,
        metrics=_read_json(layout.metrics(name)),
        train=_read_json(layout.train_info(name)),
        samples=samples if samples.is_file() else None,
    )


def check_scale(outputs: dict[str, RunOutputs], scale: str, root: Path) -> None:
    """Refuse (ScaleMismatch, one line) outputs whose recorded "scale" is not `scale`."""
    bad = []
    for out in outputs.values():
        for kind, data in (("metrics.json", out.metrics), ("train.json", out.train)):
            recorded = (data or {}).get("scale")
            if recorded is not None and recorded != scale:
                bad.append(f"{out.name}/{kind} is {recorded}")
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ScaleMismatch(
            f"{Layout(root, scale).runs}: refusing to mix scales: the report is at scale {scale!r} but {shown} "
            f"(re-run those runs at this scale, or remove them)"
        )


def load_inputs(params_path: str | Path = "params.yaml", root: str | Path = ".", scale: str | None = None) -> (
        ReportInputs):
    """Read params.yaml and every run's outputs under `root`; `scale` defaults to params.yaml's. Another scale
    than params.yaml's is read from configs/<scale>.yaml (so `--scale small` works while the demo is checked
    out: each scale's runs/ and reports/ are its own)."""
    root = Path(root)
    path = Path(params_path)
    if not path.is_absolute() and not path.is_file() and (root / path).is_file():
        path = root / path
    params = load_params(path)
    if scale is not None and scale != params.scale and scale_config(root, scale).is_file():
        params = load_params(scale_config(root, scale))
    scale = scale or params.scale
    runs = {name: read_run(root, name, scale) for name in params.members()}
    check_scale(runs, scale, root)
    return ReportInputs(params=params, root=root, scale=scale, runs=runs)
