"""The `dvc:` section of params.yaml: the keys DVC's `foreach` stages iterate, generated from the scale,
its datasets and its runs (one key per seed), so dvc.yaml stays one file for every scale.

Stage names carry the scale except at the default one (`train@small-fashion-cips-s0`, `report@small`;
`train@fashion-cips`, `report@demo`), so the lock entries of every scale live side by side in one dvc.lock
and switching scale re-runs nothing.
`cips scale NAME` writes the section; `cips scale --refresh` rewrites it after runs or datasets change.
"""

from __future__ import annotations

from cips.config import DEFAULT_SCALE, Params
from cips.layout import Layout

SECTION = "dvc"
UNPREFIXED_SCALES = (DEFAULT_SCALE, "test")  # the default scale's stages keep plain names: train@fashion-cips


def stage_key(scale: str, name: str) -> str:
    """The foreach key (the part after '@') of dataset or run `name` at `scale`."""
    return name if scale in UNPREFIXED_SCALES else f"{scale}-{name}"


def plan(params: Params) -> dict:
    """{"datasets": {key: ...}, "runs": {key: ...}, "scale": {scale: ...}, "reports": ...}: paths relative to
    the project root."""
    scale = params.scale
    layout = Layout("", scale)
    datasets = params.enabled_datasets  # a dataset with enabled: false has no stages
    spectra = params.analysis.spectra.dataset if params.analysis.spectra else next(iter(datasets))
    runs = {}
    for member, (group, _) in params.members().items():
        dataset = params.run(member).dataset
        runs[stage_key(scale, member)] = {"run": member, "group": group, "dataset": dataset,
                                          "data": str(layout.data(dataset)), "dir": str(layout.run(member))}
    return {
        "datasets": {stage_key(scale, d): {"dataset": d, "data": str(layout.data(d)), "watch": ds.source.watch}
                     for d, ds in datasets.items()},
        "runs": runs,
        "scale": {scale: {"runs": str(layout.runs), "reports": str(layout.reports),
                          "spectra_data": str(layout.data(spectra))}},
        "reports": str(layout.reports),  # for dvc.yaml's plots
    }
