"""Where the pipeline keeps its files, relative to the project root (the folder holding params.yaml).

Every scale lives in folders of its own (data/demo/, runs/small/, reports/small/, ...), so switching
scale never overwrites another's results, and a stage reading all of runs/<scale>/ reads no other scale.
Below, data/ stands for data/<scale>/, and so on.

    data/<dataset>/lmdb/<resolution>/      prepared images (stage prepare)
    data/<dataset>/fid_ref.npz             real-image features of the current protocol (stage reference)
    data/<dataset>/reference.json          what defines those references (git-tracked; evaluate depends on it)
    data/<dataset>/reference/<key>.npz     every reference computed so far, by protocol hash
    runs/<run>/resolved/train.json         what training computes from (stage resolve)
    runs/<run>/resolved/eval.json          what evaluation computes from (stage resolve)
    runs/<run>/generator.pt, train.json   stage train: the EMA generator (git-tracked) and its summary
    runs/<run>/checkpoint.pt               the full training state, to resume (not tracked)
    runs/<run>/metrics.json, eval_samples.png   stage evaluate
    reports/data/, reports/tables/, reports/figures/, reports/README.md   analysis and report

Every path of this layout, and configs/<scale>.yaml, is spelled here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT = "checkpoint.pt"  # a run's training state, in its run folder
GENERATOR = "generator.pt"  # a run's EMA generator, what every later stage reads


def scale_config(root: str | Path, scale: str) -> Path:
    """configs/<scale>.yaml: the params of a scale, which `cips scale` copies to params.yaml."""
    return Path(root) / "configs" / f"{scale}.yaml"


class Layout:
    """The file layout of one scale under one project root."""

    def __init__(self, root: str | Path, scale: str) -> None:
        self.root = Path(root)
        self.scale = scale
        self.prefix = Path(scale)

    # data
    def data(self, dataset: str) -> Path:
        return self.root / "data" / self.prefix / dataset

    def lmdb(self, dataset: str, resolution: int | None = None) -> Path:
        base = self.data(dataset) / "lmdb"
        return base if resolution is None else base / str(resolution)

    def reference_bundle(self, dataset: str) -> Path:
        return self.data(dataset) / "fid_ref.npz"

    def reference_identity(self, dataset: str) -> Path:
        return self.data(dataset) / "reference.json"

    def reference_cache(self, dataset: str) -> Path:
        return self.data(dataset) / "reference"

    # runs
    @property
    def runs(self) -> Path:
        return self.root / "runs" / self.prefix

    def run(self, run: str) -> Path:
        return self.runs / run

    def resolved(self, run: str, part: str) -> Path:
        """runs/<run>/resolved/<part>.json, part = train | eval."""
        return self.run(run) / "resolved" / f"{part}.json"

    def checkpoint(self, run: str) -> Path:
        return self.run(run) / CHECKPOINT

    def generator(self, run: str) -> Path:
        return self.run(run) / GENERATOR

    def train_info(self, run: str) -> Path:
        return self.run(run) / "train.json"

    def metrics(self, run: str) -> Path:
        return self.run(run) / "metrics.json"

    def eval_samples(self, run: str) -> Path:
        return self.run(run) / "eval_samples.png"

    # reports
    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.prefix

    def report_data(self, name: str) -> Path:
        return self.reports / "data" / name

    @property
    def tables(self) -> Path:
        return self.reports / "tables"

    @property
    def figures(self) -> Path:
        return self.reports / "figures"
