"""Tables 1-5: for every cell the published value, ours, and the protocol each was measured under.

A run feeds the cells named in its `tables` entry of params.yaml. A run that declares seeds shows the mean
over its evaluated seeds, the half-width of the 95% t-interval and n ("81.80 ± 3.10 (n=3)"); one seed
shows the number alone (n=1, no interval). A cell without an evaluated run says "not run at this scale".
Our values carry a dagger (numbered footnote) when their protocol differs from
the one they are compared with: the published protocol (at the paper's scale any difference; at a
smaller scale the differences the heading note states - resolution, N, dataset - are not repeated)
and the first value of the same comparison group (a row of Table 1, Table 2, all of Table 3, a row of
Table 5). Table 4 is computed from the architectures and is always complete.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

import pandas as pd

from cips import paper as pub
from cips.config import ModelConfig, RunConfig
from cips.report.inputs import ReportInputs

MISSING = "not run at this scale"
ABSENT = "absent (datasets.{dataset}.enabled: false)"
NONE = "—"
TABLES = (1, 2, 3, 4, 5)
TITLES = pub.TABLE_TITLES
# protocol fields a smaller scale changes on purpose (stated once in the heading note)
SCALE_FIELDS = ("dataset", "resolution", "n_generated", "n_real", "kid_subsets", "kid_subset_size")
NETWORK_NAMES = {"inception-v3-compat": "Inception", "vgg16": "VGG16"}


# --------------------------------------------------------------------------------------------
# cells and tables


@dataclass
class Ours:
    """One of our numbers (or its absence) and why it is flagged."""

    run: str | None
    value: float | None = None  # the mean over `values`
    protocol: dict | None = None
    floor: float | None = None
    flags: list[str] = field(default_factory=list)  # footnote texts
    values: list[float] = field(default_factory=list)  # one per evaluated seed
    absent: str | None = None  # the run's dataset, when it has enabled: false (a lab without it)

    @property
    def missing(self) -> bool:
        return self.value is None

    @property
    def n(self) -> int:
        return len(self.values)

    def half_width(self) -> float | None:
        """Half-width of the 95% t-interval of the mean over seeds (None below two seeds)."""
        from cips.report.claims import Estimate

        interval = Estimate(self.values).interval()
        return None if interval is None else (interval[1] - interval[0]) / 2


@dataclass
class Table:
    number: int
    title: str
    columns: list[str]
    rows: list[dict[str, str]]  # display text per column
    notes: list[str] = field(default_factory=list)  # heading notes
    footnotes: list[str] = field(default_factory=list)  # "†1: ..." lines
    values: dict[tuple[str, str], Ours] = field(default_factory=dict)  # (row label, column) -> ours

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.columns)


class Footnotes:
    """Numbered daggers, one per distinct text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, texts: list[str]) -> str:
        marks = []
        for text in texts:
            if text not in self.texts:
                self.texts.append(text)
            marks.append(f"†{self.texts.index(text) + 1}")
        return (" " + " ".join(marks)) if marks else ""

    def lines(self) -> list[str]:
        return [f"†{i}: {text}" for i, text in enumerate(self.texts, 1)]


# --------------------------------------------------------------------------------------------
# protocols


def describe_protocol(p: dict | None) -> str:
    """'500 gen / 500 real, 32px, Inception' for a protocol dict."""
    if not p:
        return NONE
    net = NETWORK_NAMES.get(p.get("feature_network"), p.get("feature_network"))
    return f"{p.get('n_generated')} gen / {p.get('n_real')} real, {p.get('resolution')}px, {net}"


def paper_protocol(metric: str, dataset: str, n_real: int, resolution: int = pub.RESOLUTION) -> dict:
    """The protocol of the paper's published numbers (Tables 1-3, 5: FID with 50k samples against the
    real images; Table 2: precision/recall with k = 3 on VGG16 features). `n_real`: the real images used,
    all of the dataset by the paper's text; the official calculate_fid.py caps them at its sample count."""
    from cips.metrics import inception
    from cips.metrics.quality import make_protocol

    if metric == "prc":
        network = {
            "feature_network": "vgg16",
            "feature_layer": "fc2_relu",
            "resize": "tf1-bilinear(align_corners=False) to 224x224",
            "normalisation": "ImageNet mean/std",
            "feature_weights": {"source": "published (Kynkaanniemi et al. VGG16)", "sha256": None},
        }
    else:
        network = {
            "feature_network": inception.NETWORK,
            "feature_layer": inception.FEATURE_LAYER,
            "resize": inception.RESIZE,
            "normalisation": inception.NORMALISATION,
            "feature_weights": {"source": "published (TF 2015-12-05 Inception)", "sha256": None},
        }
    return make_protocol(
        metric,
        dataset=dataset,
        resolution=resolution,
        n_generated=pub.N_GENERATED,
        n_real=n_real,
        network=network,
        kid_subsets=100,
        kid_subset_size=1000,
        prc_k=pub.PRC_K,
        generated="published",
        real="all real images",
    )


def published_protocol(metric: str, dataset: str, ours: dict | None, run: RunConfig | None) -> dict:
    """The protocol of a published number: 50k generated at 256px against every real image (VGG16 for
    precision/recall). Its real count is ours when we also used every image, else unknown."""
    every = ours is not None and run is not None and run.eval.n_real is None
    p = paper_protocol(metric, dataset, int(ours["n_real"]) if every else 0)
    if not every:
        p["n_real"] = "all real images"
    return p


def differences(a: dict, b: dict, skip: tuple[str, ...] = ()) -> list[str]:
    """The reasons protocols `a` and `b` are not comparable, leaving out the fields in `skip`."""
    from cips.metrics.quality import protocols_comparable

    _, reasons = protocols_comparable(a, b)
    return [r for r in reasons if r.split(":", 1)[0] not in skip]


def fmt(value: float | None, digits: int) -> str:
    return NONE if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------------------------
# reading our values


def runs_for(inputs: ReportInputs, table: str) -> dict[str, list[RunConfig]]:
    """cell -> the runs (resolved; a run with seeds by its first seed) that feed it, in params.yaml's order."""
    out: dict[str, list[RunConfig]] = {}
    for name in inputs.params.runs:
        run = inputs.params.run(inputs.params.members_of(name, absent=True)[0])
        if table in run.tables:
            out.setdefault(run.tables[table], []).append(run)
    return out


def table_budgets(inputs: ReportInputs, table: str) -> set[int]:
    """The distinct budgets (images) of the runs that feed `table`."""
    runs = (inputs.params.run(n) for n in inputs.params.members())
    return {r.train.steps * r.train.batch for r in runs if table in r.tables}


def budget_label(budgets: set[int], label: str, *runs: RunConfig | None) -> str:
    """`label`, with its runs' budget when the scale trains the cells at more than one (a row per budget)."""
    mine = {r.train.steps * r.train.batch for r in runs if r is not None}
    return f"{label} ({next(iter(mine)) / 1000:g} kimg)" if len(budgets) > 1 and len(mine) == 1 else label


def paper_dataset(inputs: ReportInputs, dataset: str) -> str:
    """The paper's dataset a dataset of ours is shown beside (itself unless it stands for another)."""
    return inputs.params.dataset(dataset).stands_for or dataset


def dataset_label(inputs: ReportInputs, dataset: str) -> str:
    stands = inputs.params.dataset(dataset).stands_for
    return f"{dataset} (for {pub.DATASET_LABELS.get(stands, stands)})" if stands else dataset


def row_groups(inputs: ReportInputs, cells: dict[str, list[RunConfig]], paper_rows: list[str]) -> (
        dict[tuple[str, str | None], dict[str, list[RunConfig]]]):
    """(paper's dataset, our dataset or None) -> cell -> runs: the paper's rows in its order, each with the
    datasets of ours that stand for it (None where there is none), then datasets of ours the paper lacks."""
    found: dict[tuple[str, str], dict[str, list[RunConfig]]] = {}
    for cell, runs in cells.items():
        for run in runs:
            key = (paper_dataset(inputs, run.dataset), run.dataset)
            found.setdefault(key, {}).setdefault(cell, []).append(run)
    groups: dict[tuple[str, str | None], dict[str, list[RunConfig]]] = {}
    for row in paper_rows:
        mine = {k: v for k, v in found.items() if k[0] == row}
        groups.update(mine or {(row, None): {}})
    groups.update({k: v for k, v in found.items() if k[0] not in paper_rows})
    return groups


def our_value(inputs: ReportInputs, run: RunConfig | None, key: str, metric: str) -> Ours:
    """Our value `key` ("fid", "precision", ...) of `run` (the mean over its evaluated seeds) with the
    protocol of `metric` and its floor (those of its first evaluated seed: the seeds share the protocol)."""
    if run is None:
        return Ours(None)
    group = run.group or run.name
    if inputs.params.absent(group):
        return Ours(group, absent=run.dataset)
    outs = [inputs.runs.get(m) for m in inputs.params.members_of(group)]
    metrics = [o.metrics for o in outs if o is not None and o.metrics and o.metrics.get(key) is not None]
    if not metrics:
        return Ours(group)
    values = [float(m[key]) for m in metrics]
    first = metrics[0]
    floor = (first.get("floor") or {}).get(key)
    return Ours(group, sum(values) / len(values), (first.get("protocol") or {}).get(metric), floor, values=values)


def flag(inputs: ReportInputs, ours: Ours, published: dict | None, reference: Ours | None, what: str) -> None:
    """Add to `ours.flags` the ways its protocol differs from the published one and from `reference`'s."""
    if ours.missing:
        return
    if ours.protocol is None:
        ours.flags.append(f"{what} of {ours.run}: metrics.json records no protocol")
        return
    if published is not None:
        skip = () if inputs.comparable_scale else SCALE_FIELDS
        reasons = differences(ours.protocol, published, skip)
        if reasons:
            ours.flags.append(f"{what} differs from the published protocol: {'; '.join(reasons)}")
    if reference is not None and reference is not ours and reference.protocol is not None:
        reasons = differences(ours.protocol, reference.protocol)
        if reasons:
            ours.flags.append(f"{what} of {ours.run} not comparable with {reference.run}'s: {'; '.join(reasons)}")
    if ours.protocol.get("note"):
        ours.flags.append(f"{what}: {ours.protocol['note']}")


def show(ours: Ours, digits: int, notes: Footnotes) -> str:
    """Display text of our value: the number (over seeds: mean ± 95% half-width (n)) with its daggers, or
    'not run at this scale'."""
    if ours.absent:
        return ABSENT.format(dataset=ours.absent)
    if ours.missing:
        return MISSING
    text = fmt(ours.value, digits)
    if ours.n > 1:
        half = ours.half_width()
        text += (f" ± {fmt(half, digits)}" if half is not None else "") + f" (n={ours.n})"
    return text + notes.mark(ours.flags)


def protocols_text(*values: Ours) -> str:
    texts = list(dict.fromkeys(describe_protocol(v.protocol) for v in values if not v.missing))
    return "; ".join(texts) if texts else NONE


def floor_text(*values: Ours, digits: int = 2) -> str:
    texts = [fmt(v.floor, digits) for v in values if not v.missing and v.floor is not None]
    return " / ".join(dict.fromkeys(texts)) if texts else NONE


# --------------------------------------------------------------------------------------------
# heading notes


def _span(values: list) -> str:
    values = sorted(set(values))
    if not values:
        return "?"
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def scale_note(inputs: ReportInputs) -> str | None:
    """'DEMO scale (32x32, 600 steps, FID on N=500 generated vs 500 real): not comparable ...' from the
    evaluated runs (from params.yaml where nothing is evaluated yet); None at the paper's scale."""
    if inputs.comparable_scale:
        return None
    protos = [(o.metrics.get("protocol") or {}).get("fid") or {} for o in inputs.evaluated().values()]
    runs = [inputs.params.run(name) for name in inputs.params.members()]
    res = [p["resolution"] for p in protos if "resolution" in p] or [r.model.size for r in runs]
    steps = [o.step for o in inputs.runs.values() if o.step is not None] or [r.train.steps for r in runs]
    n_gen = [p["n_generated"] for p in protos if "n_generated" in p] or [r.eval.n_generated for r in runs]
    n_real = [p["n_real"] for p in protos if "n_real" in p] or [r.eval.n_real or "all" for r in runs]
    size = _span(res)
    return (
        f"{inputs.scale.upper()} scale ({size}x{size}, {_span(steps)} steps, FID on N={_span(n_gen)} generated "
        f"vs {_span(n_real)} real): not comparable with the paper's numbers"
    )


def heading(inputs: ReportInputs, *extra: str) -> list[str]:
    from cips.config import PROTOCOLS

    note = scale_note(inputs)
    protocol = f"data protocol: {inputs.params.protocol} ({PROTOCOLS[inputs.params.protocol]})"
    seeds = SEEDS_NOTE if any((spec or {}).get("seeds") for spec in inputs.params.runs.values()) else ""
    return ([note] if note else []) + [protocol] + [e for e in (*extra, seeds) if e]


SEEDS_NOTE = ("ours: mean over the evaluated seeds ± half-width of the 95% Student-t interval of the mean "
              "(n - 1 degrees of freedom); n = seeds")


FLOOR_NOTE = "floor: real vs real at the same N (what a perfect generator would score)"


def _with_floor(inputs: ReportInputs, values: list[Ours]) -> bool:
    return not inputs.comparable_scale or any(v.floor is not None for v in values)


# --------------------------------------------------------------------------------------------
# Tables 1-5


def table1(inputs: ReportInputs) -> Table:
    cells = runs_for(inputs, "table1")
    notes = Footnotes()
    by_row = row_groups(inputs, cells, list(pub.TABLE1_FID))
    rows, values, all_values, budgets = [], {}, [], table_budgets(inputs, "table1")
    for (paper_ds, ours_ds), runs in by_row.items():
        published = pub.TABLE1_FID.get(paper_ds, {})
        pairs = itertools.zip_longest(runs.get("stylegan2", []), runs.get("cips", [])) if runs else [(None, None)]
        for sg_run, cips_run in pairs:
            label = budget_label(budgets, pub.DATASET_LABELS.get(paper_ds, paper_ds), sg_run, cips_run)
            sg = our_value(inputs, sg_run, "fid", "fid")
            ci = our_value(inputs, cips_run, "fid", "fid")
            reference = next((v for v in (ci, sg) if not v.missing), None)
            for v in (ci, sg):
                proto = published_protocol("fid", paper_ds, v.protocol, _run(inputs, v.run)) if paper_ds in \
                    pub.TABLE1_FID else None
                flag(inputs, v, proto, reference, "FID")
            row = {
                "dataset": label,
                "ours on": dataset_label(inputs, ours_ds) if ours_ds else NONE,
                "StyleGANv2 (paper)": fmt(published.get("stylegan2"), 2),
                "StyleGANv2 (ours)": show(sg, 2, notes),
                "CIPS (paper)": fmt(published.get("cips"), 2),
                "CIPS (ours)": show(ci, 2, notes),
                "floor": floor_text(sg, ci),
                "protocol (ours)": protocols_text(sg, ci),
            }
            rows.append(row)
            values[(label, "stylegan2")], values[(label, "cips")] = sg, ci
            all_values += [sg, ci]
    columns = list(rows[0])
    return _finish(1, inputs, columns, rows, values, all_values, notes,
                   "paper: 50k generated vs all real images, 256x256, Inception features")


def table2(inputs: ReportInputs) -> Table:
    cells = runs_for(inputs, "table2")
    notes = Footnotes()
    rows, values, all_values, reference, budgets = [], {}, [], None, table_budgets(inputs, "table2")
    for model in ("stylegan2", "cips"):
        for run in cells.get(model) or [None]:
            label = budget_label(budgets, "StyleGANv2" if model == "stylegan2" else "CIPS", run)
            p = our_value(inputs, run, "precision", "prc")
            r = our_value(inputs, run, "recall", "prc")
            paper_ds = paper_dataset(inputs, run.dataset) if run else "ffhq"
            reference = reference or (p if not p.missing else None)
            for v in (p, r):
                flag(inputs, v, published_protocol("prc", paper_ds, v.protocol, run), reference, "precision/recall")
            rows.append({
                "model": label,
                "ours on": dataset_label(inputs, run.dataset) if run else NONE,
                "precision (paper)": fmt(pub.TABLE2_PR[model]["precision"], 3),
                "precision (ours)": show(p, 3, notes),
                "recall (paper)": fmt(pub.TABLE2_PR[model]["recall"], 3),
                "recall (ours)": show(r, 3, notes),
                "floor": " / ".join(fmt(v.floor, 3) for v in (p, r)) if not p.missing and p.floor is not None
                else NONE,
                "protocol (ours)": protocols_text(p),
            })
            values[(label, "precision")], values[(label, "recall")] = p, r
            all_values += [p, r]
    return _finish(2, inputs, list(rows[0]), rows, values, all_values, notes,
                   "paper: FFHQ 256x256, 50k generated vs all real images, k = 3, VGG16 features",
                   floor_note="floor: precision / recall of real vs real at the same N")


ABLATION_FLAGS = {"fourier": "Fourier", "embeddings": "coord. emb.", "residual": "residual", "skips": "skips",
                  "sine": "sine act."}


def run_flags(run: RunConfig) -> dict[str, bool]:
    m = run.model
    return {"fourier": m.fourier, "embeddings": m.embeddings, "residual": m.residual, "skips": m.skips,
            "sine": m.activation == "sine"}


def table3(inputs: ReportInputs) -> Table:
    cells = runs_for(inputs, "table3")
    notes = Footnotes()
    rows, values, all_values = [], {}, []
    group = [r for key in pub.TABLE3_ABLATIONS for r in cells.get(key, [])]
    reference_run = next((r for r in group if not our_value(inputs, r, "fid", "fid").missing), None)
    reference = our_value(inputs, reference_run, "fid", "fid") if reference_run else None
    budgets = table_budgets(inputs, "table3")
    for key, published in pub.TABLE3_ABLATIONS.items():
        for run in cells.get(key) or [None]:
            label = budget_label(budgets, pub.TABLE3_LABELS[key], run)
            v = our_value(inputs, run, "fid", "fid")
            if reference is not None and v.run == reference.run:
                v = reference
            paper_ds = paper_dataset(inputs, run.dataset) if run else "ffhq"
            flag(inputs, v, published_protocol("fid", paper_ds, v.protocol, run), reference, "FID")
            if run is not None and not v.missing:
                wrong = {k: x for k, x in run_flags(run).items() if x != published[k]}
                if wrong:
                    v.flags.append(f"{run.group or run.name} is not the paper's '{label}' configuration: " + ", ".join(
                        f"{ABLATION_FLAGS[k]} {'+' if x else '-'}" for k, x in wrong.items()))
            row = {"config": label}
            row.update({name: "+" if published[k] else "-" for k, name in ABLATION_FLAGS.items()})
            row.update({
                "run": (run.group or run.name) if run else NONE,
                "FID (paper)": fmt(published["fid"], 2),
                "FID (ours)": show(v, 2, notes),
                "floor": floor_text(v),
                "protocol (ours)": protocols_text(v),
            })
            rows.append(row)
            values[(label, "fid")] = v
            all_values.append(v)
    return _finish(3, inputs, list(rows[0]), rows, values, all_values, notes,
                   "paper: FFHQ 256x256, 300K iterations of batch 16, FID on 50k generated vs all real images")


def scale_model(inputs: ReportInputs, paper_cfg: ModelConfig) -> ModelConfig:
    """The generator of Table 4's row at the current scale: params.yaml's base model with the row's overrides
    of the paper's default configuration."""
    default = ModelConfig()
    overrides = {f.name: getattr(paper_cfg, f.name) for f in dataclasses.fields(ModelConfig)
                 if getattr(paper_cfg, f.name) != getattr(default, f.name)}
    return inputs.params.base_model(overrides)


def table4(inputs: ReportInputs) -> Table:
    from cips.models.summary import PAPER_CONFIGS, build_on_meta, count_parameters
    from cips.models.summary import table4 as paper_rows

    notes = Footnotes()
    rows, values = [], {}
    scale_col = f"ours at {inputs.scale} scale (M)"
    for r in paper_rows():
        cfg = scale_model(inputs, PAPER_CONFIGS[r["key"]])
        n = count_parameters(build_on_meta(cfg))
        flags = [] if r["matches"] else [f"{r['model']}: {r['params']:,} parameters, not the published "
                                         f"{r['published_m']}M to 0.1M"]
        ours = Ours(r["key"], r["params_m"], flags=flags)
        rows.append({
            "model": r["model"],
            "params (paper, M)": fmt(r["published_m"], 1),
            "ours at paper configuration (M)": show(ours, 2, notes),
            "difference (M)": f"{r['difference_m']:+.3f}",
            scale_col: f"{n / 1e6:.3f}",
            "configuration at this scale": f"{cfg.arch} {cfg.size}px" + (
                f", width {cfg.width}, depth {cfg.depth}" if cfg.arch == "cips" else
                f", channel_max {cfg.channel_max}"),
        })
        values[(r["model"], "params_m")] = ours
        values[(r["model"], "scale_params_m")] = Ours(r["key"], n / 1e6)
    extra = "computed from the architectures (no training): the paper-configuration counts are comparable"
    table = _finish(4, inputs, list(rows[0]), rows, values, [], notes, extra, floor_note="")
    return table


PATCH_CELLS = {"full": 256, "half": 128, "quarter": 64}


def patch_k(run: RunConfig) -> int:
    return run.train.patch or run.model.size


def table5(inputs: ReportInputs) -> Table:
    cells = runs_for(inputs, "table5")
    notes = Footnotes()
    by_row = row_groups(inputs, cells, list(pub.TABLE5_PATCH_FID))
    rows, values, all_values = [], {}, []
    for (paper_ds, ours_ds), runs in by_row.items():
        published = pub.TABLE5_PATCH_FID.get(paper_ds, {})
        label = pub.DATASET_LABELS.get(paper_ds, paper_ds)
        ours = {c: our_value(inputs, (runs.get(c) or [None])[0], "fid", "fid") for c in PATCH_CELLS}
        reference = next((ours[c] for c in PATCH_CELLS if not ours[c].missing), None)
        row = {"dataset": label, "ours on": dataset_label(inputs, ours_ds) if ours_ds else NONE}
        for cell, k in PATCH_CELLS.items():
            v, run = ours[cell], (runs.get(cell) or [None])[0]
            proto = published_protocol("fid", paper_ds, v.protocol, run) if published else None
            flag(inputs, v, proto, reference, "FID")
            row[f"K={k} (paper)"] = fmt(published.get(k), 2)
            row[f"{cell} (ours)"] = show(v, 2, notes) + (f" (K={patch_k(run)})" if run and not v.missing else "")
            values[(label, cell)] = v
            all_values.append(v)
        row["floor"] = floor_text(*ours.values())
        row["protocol (ours)"] = protocols_text(*ours.values())
        rows.append(row)
    return _finish(5, inputs, list(rows[0]), rows, values, all_values, notes,
                   "paper: 256x256, FID of full images on 50k generated vs all real images; ours: full = K = "
                   "image size, half = K / 2, quarter = K / 4")


def _run(inputs: ReportInputs, name: str | None) -> RunConfig | None:
    """The resolved run of an entry of runs (its first seed where it declares seeds) or of a model."""
    if not name:
        return None
    return inputs.params.run(inputs.params.members_of(name, absent=True)[0] if name in inputs.params.runs else name)


def _finish(number: int, inputs: ReportInputs, columns: list[str], rows: list[dict], values: dict,
            all_values: list[Ours], notes: Footnotes, extra: str, floor_note: str = FLOOR_NOTE) -> Table:
    """Drop the floor column where it has no place, and attach the heading notes and footnotes."""
    if "floor" in columns and not _with_floor(inputs, all_values):
        columns = [c for c in columns if c != "floor"]
        rows = [{k: v for k, v in r.items() if k != "floor"} for r in rows]
        floor_note = ""
    return Table(number, TITLES[number], columns, rows, heading(inputs, extra, floor_note), notes.lines(), values)


BUILDERS = {1: table1, 2: table2, 3: table3, 4: table4, 5: table5}


def build_tables(inputs: ReportInputs, numbers: tuple[int, ...] = TABLES) -> list[Table]:
    return [BUILDERS[n](inputs) for n in numbers]
