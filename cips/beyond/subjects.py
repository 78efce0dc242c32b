"""Which runs of params.yaml the per-pixel figures show, by rule (no extra params keys), at any scale.

- main: the CIPS run of Table 1 on the aligned dataset of the spectra analysis (`analysis.spectra.dataset`:
  FFHQ at paper scale, its stand-in in the demo), else that dataset's Table-3 "main" run, else its first
  cartesian CIPS run. Figs. 8, 9, 10, 18 and 19 and the style blend of Fig. 11 use it, as the paper uses FFHQ.
- panorama: the first cylindrical run (Figs. 11, 17); none at the demo scale, where the main run is rendered
  on a wider grid instead and the figure says so.
- patches: per dataset, its Table-5 runs in the order full, half, quarter (Fig. 15), where two or more exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cips.config import Params

TABLE5_ORDER = ("full", "half", "quarter")


@dataclass
class Subjects:
    dataset: str | None
    main: str | None
    panorama: str | None
    patches: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # dataset -> [(cell, run)]

    def runs(self) -> list[str]:
        names = [self.main, self.panorama] + [r for rows in self.patches.values() for _, r in rows]
        return list(dict.fromkeys(n for n in names if n))


def choose(params: Params) -> Subjects:
    firsts = [params.members_of(run)[0] for run in params.runs if not params.absent(run)]  # first seed stands for it
    resolved = {name: params.run(name) for name in firsts}
    cips = {n: r for n, r in resolved.items() if r.model.arch == "cips"}
    cartesian = {n: r for n, r in cips.items() if r.model.coords == "cartesian" and r.train.patch is None}
    dataset = params.analysis.spectra.dataset if params.analysis.spectra else None
    if dataset is None:
        dataset = next((r.dataset for r in cartesian.values() if r.tables.get("table1") == "cips"), None)
    on_dataset = {n: r for n, r in cartesian.items() if r.dataset == dataset}
    main = (next((n for n, r in on_dataset.items() if r.tables.get("table1") == "cips"), None)
            or next((n for n, r in on_dataset.items() if r.tables.get("table3") == "main"), None)
            or next(iter(on_dataset), None))
    panorama = next((n for n, r in cips.items() if r.model.coords == "cylindrical"), None)
    patches: dict[str, list[tuple[str, str]]] = {}
    for cell in TABLE5_ORDER:
        for n, r in resolved.items():
            if r.tables.get("table5") == cell:
                patches.setdefault(r.dataset, []).append((cell, n))
    patches = {d: rows for d, rows in patches.items() if len(rows) >= 2}
    return Subjects(dataset, main, panorama, patches)
