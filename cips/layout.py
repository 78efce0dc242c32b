"""Where the pipeline keeps its files, relative to the project root (the folder holding params.yaml).

    data/<dataset>/lmdb/<resolution>/      prepared images (stage prepare)
    data/<dataset>/fid_ref.npz             real-image features of the current protocol (stage reference)
    data/<dataset>/reference/<key>.npz     every reference computed so far, by protocol hash
    runs/<run>/resolved/train.json         what training computes from (stage resolve)
    runs/<run>/resolved/eval.json          what evaluation computes from (stage resolve)
    runs/<run>/checkpoint.pt, train.json   stage train
    runs/<run>/metrics.json, eval_samples.png   stage evaluate
    reports/data/, reports/tables/, reports/figures/, reports/README.md   analysis and report

Every path of this layout is spelled here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT = "checkpoint.pt"  # a run's checkpoint, in its run folder


class Layout:
    """The file layout under one project root."""

    def __init__(self, root: str | Path = ".") -> None:
        self.root = Path(root)

    # data
    def data(self, dataset: str) -> Path:
        return self.root / "data" / dataset

    def lmdb(self, dataset: str, resolution: int | None = None) -> Path:
        base = self.data(dataset) / "lmdb"
        return base if resolution is None else base / str(resolution)

    def reference_bundle(self, dataset: str) -> Path:
        return self.data(dataset) / "fid_ref.npz"

    def reference_cache(self, dataset: str) -> Path:
        return self.data(dataset) / "reference"

    # runs
    def run(self, run: str) -> Path:
        return self.root / "runs" / run

    def resolved(self, run: str, part: str) -> Path:
        """runs/<run>/resolved/<part>.json, part = train | eval."""
        return self.run(run) / "resolved" / f"{part}.json"

    def checkpoint(self, run: str) -> Path:
        return self.run(run) / CHECKPOINT

    def train_info(self, run: str) -> Path:
        return self.run(run) / "train.json"

    def metrics(self, run: str) -> Path:
        return self.run(run) / "metrics.json"

    def eval_samples(self, run: str) -> Path:
        return self.run(run) / "eval_samples.png"

    # reports
    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report_data(self, name: str) -> Path:
        return self.reports / "data" / name

    @property
    def tables(self) -> Path:
        return self.reports / "tables"

    @property
    def figures(self) -> Path:
        return self.reports / "figures"
