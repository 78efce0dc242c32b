"""The paper's claims as tests: each claim, the paper's sentence it tests, its statistic, interval and verdict.

The rules are docs/claims.md, fixed before the numbers they judge; this module implements them. In short:
numbers of one table cell are pooled over every model that feeds it (one per seed); a claim is a set of
one-sided links on differences of cell means (Welch t, or paired t for two numbers of one model), each tested
at 5% (the 90% interval): *reproduced* when every link's interval lies on the claimed side of its line,
*opposite* when one lies wholly on the other side, *inconclusive* otherwise. A non-inferiority link's line is
a margin derived from the paper's own numbers. Beside each verdict: the verdicts at half and twice the margin,
at the 95% interval, and after Holm's correction over the family of primary claims.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import stats

from cips.config import SPECTRA_ROLES
from cips.files import skipped_reason
from cips.report.inputs import ReportInputs, RunOutputs

REPRODUCED, OPPOSITE, INCONCLUSIVE = "reproduced", "opposite", "inconclusive"
LEVEL = 0.05  # each one-sided test: the 90% two-sided interval
STRICT_LEVEL = 0.025  # the sensitivity column: the 95% two-sided interval
FAMILY_LEVEL = 0.05  # Holm's familywise level over the primary claims


@dataclass(frozen=True)
class Margin:
    """A non-inferiority margin as a fraction of the reference cell's mean, and where it comes from."""

    fraction: float
    derivation: str


# docs/claims.md, "Margins, from the paper's own numbers"
COMPARABLE = Margin(0.53, "the largest Table 1 gap the paper calls comparable: Landscapes, CIPS 3.61 against "
                          "StyleGAN2 2.36, 53.0% (its five gaps: 5.4%, 6.0%, 14.4%, 24.4%, 53.0%)")
NO_WORSE = Margin(0.028, "the smallest Table 3 difference the paper calls a significant improvement: residual "
                         "6.52 against base 6.71, 2.8%")


@dataclass
class Estimate:
    """The numbers of one cell, one per model."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    def interval(self, confidence: float = 0.95) -> tuple[float, float] | None:
        """Student's t-interval of the mean (None below two values)."""
        if self.n < 2:
            return None
        half = stats.t.ppf(0.5 + confidence / 2, self.n - 1) * np.std(self.values, ddof=1) / math.sqrt(self.n)
        return self.mean - half, self.mean + half


@dataclass(frozen=True)
class Diff:
    """A difference of means with its standard error and degrees of freedom (se None: a side has one value)."""

    value: float
    se: float | None
    dof: float | None

    def interval(self, alpha: float = LEVEL) -> tuple[float, float] | None:
        """The two-sided (1 - 2 alpha) interval: each end is a one-sided bound at level alpha."""
        if self.se is None:
            return None
        half = 0.0 if self.se == 0 else stats.t.ppf(1 - alpha, self.dof) * self.se
        return self.value - half, self.value + half

    def p_above(self, line: float) -> float | None:
        """One-sided p-value of "the difference is above `line`"."""
        if self.se is None:
            return None
        if self.se == 0:
            return 0.0 if self.value > line else 1.0
        return float(stats.t.sf((self.value - line) / self.se, self.dof))


def welch(a: Estimate, b: Estimate) -> Diff:
    """mean(a) - mean(b), Welch's standard error and Welch-Satterthwaite degrees of freedom."""
    diff = a.mean - b.mean
    if a.n < 2 or b.n < 2:
        return Diff(diff, None, None)
    va, vb = np.var(a.values, ddof=1) / a.n, np.var(b.values, ddof=1) / b.n
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1)) if se else float(a.n + b.n - 2)
    return Diff(diff, se, dof)


def paired(differences: Sequence[float]) -> Diff:
    """The mean of per-model differences, with the paired t standard error."""
    est = Estimate(list(differences))
    if est.n < 2:
        return Diff(est.mean, None, None)
    return Diff(est.mean, float(np.std(est.values, ddof=1) / math.sqrt(est.n)), float(est.n - 1))


def difference(a: Estimate, b: Estimate, confidence: float = 0.95) -> tuple[float, tuple[float, float] | None]:
    """mean(a) - mean(b) and its two-sided Welch t-interval at `confidence`."""
    d = welch(a, b)
    return d.value, d.interval((1 - confidence) / 2)


@dataclass(frozen=True)
class Link:
    """One one-sided statement: `diff` lies above (`above` True) or below the line `base` x `scale`."""

    what: str
    diff: Diff
    above: bool
    line: float = 0.0  # the line at the rule's margin (0 for a directional link)
    margin: bool = False  # the line is a margin, scaled by the sensitivity columns

    def verdict(self, alpha: float = LEVEL, scale: float = 1.0) -> str:
        interval = self.diff.interval(alpha)
        if interval is None:
            return INCONCLUSIVE
        line = self.line * scale if self.margin else self.line
        low, high = interval
        if self.above:
            return REPRODUCED if low > line else OPPOSITE if high < line else INCONCLUSIVE
        return REPRODUCED if high < line else OPPOSITE if low > line else INCONCLUSIVE

    def p_toward(self) -> float | None:
        p = self.diff.p_above(self.line)
        return None if p is None else (p if self.above else 1 - p)


def all_of(verdicts: Sequence[str]) -> str:
    if any(v == OPPOSITE for v in verdicts):
        return OPPOSITE
    return REPRODUCED if verdicts and all(v == REPRODUCED for v in verdicts) else INCONCLUSIVE


@dataclass
class Claim:
    claim: str
    source: str
    kind: str  # directional | non-inferiority | chain | control | not tested
    test: str
    statistic: str
    verdict: str
    interval: list[float] | None = None  # the 90% interval of the first link
    interval_95: list[float] | None = None
    margin: float | None = None
    margin_derivation: str = ""
    verdict_half_margin: str | None = None
    verdict_twice_margin: str | None = None
    verdict_95: str = INCONCLUSIVE
    verdict_holm: str | None = None  # None: not a member of the family
    p: float | None = None  # one-sided p-value toward the claim (a chain: its largest)
    p_opposite: float | None = None
    p_holm: float | None = None
    budget: str = ""
    primary: bool = True
    values: dict = field(default_factory=dict)  # cell -> {"mean", "n"}
    note: str = ""
    key: str = ""  # a short stable name: table3/ne, table1/fashion, fig4, ...
    detectable: list[float | None] = field(default_factory=list)  # per link: the distance found with 80% power
    moving: list[dict] = field(default_factory=list)  # seeds whose curves still move (Moving as a dict)


def _fmt(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(float(interval[0]), 4), round(float(interval[1]), 4)]


def _p(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.4g}")


POWER = 0.80  # the power column: the smallest distance from the line the test finds this often


def detectable(diff: Diff, alpha: float = LEVEL, power: float = POWER) -> float | None:
    """The smallest distance between the true difference and a link's line that its one-sided test at `alpha`
    detects with probability `power`: (t(1 - alpha) + t(power)) x the standard error, at Welch's df
    (docs/claims.md, "Power"; the cells' observed spreads stand in for the true ones)."""
    if diff.se is None:
        return None
    return float((stats.t.ppf(1 - alpha, diff.dof) + stats.t.ppf(power, diff.dof)) * diff.se)


def judged(claim: str, source: str, kind: str, links: list[Link], values: dict, budget: str, note: str = "",
           margin: Margin | None = None, reference: float | None = None, primary: bool = True,
           digits: int = 2, key: str = "", inputs: ReportInputs | None = None,
           curves: dict[str, list[str]] | None = None) -> Claim:
    """A claim from its links: verdicts at the rule, the sensitivity columns, the p-values for Holm, the power
    column, and the learning-curve caveat of the runs in `curves` (cell -> runs, read from `inputs`)."""
    moving = still_moving(inputs, curves) if inputs is not None and curves else []
    single = [name for name, v in values.items() if v["n"] < 2]
    ps = [lk.p_toward() for lk in links]
    opp = [None if p is None else 1 - p for p in ps]
    tests = {"directional": "one-sided Welch t at 5% (90% interval)",
             "non-inferiority": "non-inferiority, one-sided Welch t at 5% (90% interval)",
             "chain": "every link one-sided at 5% (intersection-union: 90% intervals)",
             "paired": "one-sided paired t at 5% (90% interval)"}
    statistic = "; ".join(f"{lk.what} = {lk.diff.value:.{digits}f}" for lk in links)
    extra = []
    if len(links) > 1:
        rest = [f"[{i[0]:.{digits}f}, {i[1]:.{digits}f}]" if (i := lk.diff.interval()) else "none (one seed)"
                for lk in links[1:]]
        extra.append("interval: of the first link (the others': " + ", ".join(rest) + "); every link must hold")
    if margin is not None:
        extra.append(f"margin {margin.fraction:.1%} of {reference:.2f} = {margin.fraction * reference:.2f}")
    if single:
        extra.append(f"one seed of {' and '.join(single)}: no interval")
    return Claim(
        claim, source, kind, tests.get(kind, kind), statistic,
        all_of([lk.verdict() for lk in links]),
        _fmt(links[0].diff.interval()), _fmt(links[0].diff.interval(STRICT_LEVEL)),
        None if margin is None else round(margin.fraction * reference, 4),
        "" if margin is None else f"{margin.fraction:.1%} of the reference mean: {margin.derivation}",
        None if margin is None else all_of([lk.verdict(scale=0.5) for lk in links]),
        None if margin is None else all_of([lk.verdict(scale=2.0) for lk in links]),
        all_of([lk.verdict(STRICT_LEVEL) for lk in links]),
        None, _p(None if None in ps else max(ps)), _p(None if None in opp else min(opp)), None, budget, primary,
        values, "; ".join(filter(None, [*extra, note])), key,
        [None if (d := detectable(lk.diff)) is None else round(d, 4) for lk in links],
        [asdict(m) for m in moving])


def holm(claims: list[Claim], level: float = FAMILY_LEVEL) -> None:
    """Holm's step-down correction over the primary claims with a p-value: sets p_holm and verdict_holm (the
    same procedure on the p-values toward the opposite side decides "opposite")."""
    family = [c for c in claims if c.primary and c.p is not None and c.p_opposite is not None]

    def adjusted(ps: list[float]) -> list[float]:
        order = sorted(range(len(ps)), key=lambda i: ps[i])
        out, running = [0.0] * len(ps), 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
            out[i] = running
        return out

    toward, away = adjusted([c.p for c in family]), adjusted([c.p_opposite for c in family])
    for c, pt, pa in zip(family, toward, away, strict=True):
        c.p_holm = _p(pt)
        c.verdict_holm = REPRODUCED if pt < level else OPPOSITE if pa < level else INCONCLUSIVE
    for c in claims:
        if c.primary and c.verdict_holm is None:
            c.verdict_holm = INCONCLUSIVE  # no interval: nothing to correct, nothing shown


# --------------------------------------------------------------------------------------------
# cells


def images_of(inputs: ReportInputs, name: str) -> int:
    """The training budget of model `name` in images (steps x batch)."""
    t = inputs.params.run(name).train
    return t.steps * t.batch


def budgets(inputs: ReportInputs) -> list[int]:
    """The distinct budgets (images) of the models that feed a table, shortest first."""
    return sorted({images_of(inputs, n) for n in inputs.params.members() if inputs.params.run(n).tables})


def declared_cells(inputs: ReportInputs, table: str, budget: int | None = None) -> dict[tuple[str, str], list[str]]:
    """(dataset, cell) -> every member the scale declares for that cell of `table` (at `budget` images, when
    given), evaluated or not."""
    out: dict[tuple[str, str], list[str]] = {}
    for name in inputs.params.members():
        run = inputs.params.run(name)
        if budget is not None and images_of(inputs, name) != budget:
            continue
        if (cell := run.tables.get(table)) is not None:
            out.setdefault((run.dataset, cell), []).append(name)
    return out


def _metric(inputs: ReportInputs, name: str, key: str = "fid") -> float | None:
    metrics = inputs.runs[name].metrics if name in inputs.runs else None
    value = (metrics or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def _unevaluated(inputs: ReportInputs, table: str, dataset: str | None, cells: tuple[str, ...],
                 budget: int | None = None) -> str:
    """Why a claim cannot be tested yet: per cell, how many of its declared members have an FID."""
    declared = declared_cells(inputs, table, budget)
    parts = []
    for cell in cells:
        names = [n for (d, c), ns in declared.items() if c == cell and dataset in (None, d) for n in ns]
        done = sum(_metric(inputs, n) is not None for n in names)
        parts.append(f"{cell} {done} of {len(names)} evaluated" if names else f"{cell} not declared")
    return "no FIDs to compare yet (" + ", ".join(parts) + ")"


def cell_values(inputs: ReportInputs, table: str, key: str = "fid",
                budget: int | None = None) -> dict[tuple[str, str], tuple[Estimate, list[str]]]:
    """(dataset, cell) -> (the `key` values of every evaluated run feeding it, those runs)."""
    out = {}
    for cell, names in declared_cells(inputs, table, budget).items():
        have = [(n, v) for n in names if (v := _metric(inputs, n, key)) is not None]
        if have:
            out[cell] = (Estimate([v for _, v in have]), [n for n, _ in have])
    return out


def budget_of(inputs: ReportInputs, names: Sequence[str]) -> str:
    """The training budget of these runs: '80 kimg (5000 steps x 16)', or every distinct one."""
    seen = []
    for name in names:
        t = inputs.params.run(name).train
        text = f"{t.steps * t.batch / 1000:g} kimg ({t.steps} steps x {t.batch})"
        if text not in seen:
            seen.append(text)
    return " / ".join(seen)


FLAT = 0.03  # docs/claims.md: a learning curve still moves when its last two points are more than 3% apart


@dataclass(frozen=True)
class Moving:
    """One seed whose learning curve still moves: its cell, run and seed, and the relative change of FID between
    its last two curve points (either sign)."""

    cell: str
    run: str
    seed: int | None
    change: float


def still_moving(inputs: ReportInputs, cells: dict[str, list[str]]) -> list[Moving]:
    """The seeds of these cells whose FID moved by more than FLAT, up or down, between the last two points of
    their learning curves (docs/claims.md: per seed and two-sided, every cell alike, whichever way the verdict
    goes)."""
    members = inputs.params.members(absent=True)
    out = []
    for cell, names in cells.items():
        for name in names:
            curve = ((inputs.runs.get(name) or RunOutputs(name)).train or {}).get("curve") or []
            if len(curve) >= 2 and curve[-2].get("fid"):
                change = (curve[-1]["fid"] - curve[-2]["fid"]) / curve[-2]["fid"]
                if abs(change) > FLAT:
                    out.append(Moving(cell, name, members.get(name, (name, None))[1], round(float(change), 4)))
    return out


def caveat(moving: list[dict]) -> str:
    """The learning-curve caveat of a claim from its `moving` seeds (Claim.moving), or ""."""
    if not moving:
        return ""
    by_cell: dict[str, list[str]] = {}
    for m in moving:
        seed = m["run"] if m["seed"] is None else f"s{m['seed']}"
        by_cell.setdefault(m["cell"], []).append(f"{seed} {m['change']:+.1%}")
    parts = "; ".join(f"{cell} {', '.join(seeds)}" for cell, seeds in by_cell.items())
    return (f"learning curves still moving over their last interval ({parts}): the verdict compares models still "
            "learning, at equal numbers of images, not at convergence")


def _values(cells: dict[str, Estimate], digits: int = 3) -> dict:
    return {name: {"mean": round(est.mean, digits), "n": est.n} for name, est in cells.items()}


def _missing(claim: str, source: str, why: str, primary: bool = True, key: str = "") -> Claim:
    return Claim(claim, source, "not tested", "none", "n/a", INCONCLUSIVE, primary=primary, note=f"not tested: {why}",
                 key=key)


# --------------------------------------------------------------------------------------------
# the claims (docs/claims.md, "The claims")


TABLE3_ROWS = ("base", "ne", "nofourier", "main", "residual", "sine")


def _undeclared(budget: int | None) -> list[str]:
    """A table none of whose runs is declared: one untested claim (none at a budget that has no such run)."""
    return ["(none)"] if budget is None else []


def table_claims(inputs: ReportInputs, budget: int | None = None) -> list[Claim]:
    """The claims of Tables 1-5 on the models of one budget (images; None: every model)."""
    claims: list[Claim] = []
    t1 = cell_values(inputs, "table1", budget=budget)
    for ds in sorted({d for d, _ in declared_cells(inputs, "table1", budget)}) or _undeclared(budget):
        text = f"Table 1 ({ds}): CIPS is of comparable quality with StyleGAN2 (not worse by more than the margin)"
        if (ds, "cips") not in t1 or (ds, "stylegan2") not in t1:
            claims.append(_missing(text, "Table 1", _unevaluated(inputs, "table1", ds, ("cips", "stylegan2"), budget),
                                   key=f"table1/{ds}"))
            continue
        (cips, a), (sg2, b) = t1[(ds, "cips")], t1[(ds, "stylegan2")]
        link = Link("FID(CIPS) - FID(StyleGAN2)", welch(cips, sg2), above=False,
                    line=COMPARABLE.fraction * sg2.mean, margin=True)
        claims.append(judged(text, "Table 1", "non-inferiority", [link], _values({"cips": cips, "stylegan2": sg2}),
                             budget_of(inputs, a + b), margin=COMPARABLE, reference=sg2.mean, key=f"table1/{ds}",
                             inputs=inputs, curves={"cips": a, "stylegan2": b}))

    prec, rec = cell_values(inputs, "table2", "precision", budget), cell_values(inputs, "table2", "recall", budget)
    for ds in sorted({d for d, _ in declared_cells(inputs, "table2", budget)}) or _undeclared(budget):
        text = f"Table 2 ({ds}): CIPS has higher precision and lower recall than StyleGAN2"
        if any((ds, c) not in m for m in (prec, rec) for c in ("cips", "stylegan2")):
            claims.append(_missing(text, "Table 2", _unevaluated(inputs, "table2", ds, ("cips", "stylegan2"), budget),
                                   key=f"table2/{ds}"))
            continue
        links = [Link("precision(CIPS) - precision(StyleGAN2)",
                      welch(prec[(ds, "cips")][0], prec[(ds, "stylegan2")][0]), above=True),
                 Link("recall(StyleGAN2) - recall(CIPS)",
                      welch(rec[(ds, "stylegan2")][0], rec[(ds, "cips")][0]), above=True)]
        names = prec[(ds, "cips")][1] + prec[(ds, "stylegan2")][1]
        features = {(inputs.runs[n].metrics or {}).get("protocol", {}).get("prc", {}).get("feature_network")
                    for n in names}
        note = ("precision/recall on Inception features (the paper: VGG16); a verdict on another embedding"
                if "vgg16" not in features else "")
        claims.append(judged(text, "Table 2", "chain", links,
                             _values({"cips precision": prec[(ds, "cips")][0],
                                      "stylegan2 precision": prec[(ds, "stylegan2")][0],
                                      "cips recall": rec[(ds, "cips")][0],
                                      "stylegan2 recall": rec[(ds, "stylegan2")][0]}),
                             budget_of(inputs, names), note=note, digits=3, key=f"table2/{ds}", inputs=inputs,
                             curves={"cips": prec[(ds, "cips")][1], "stylegan2": prec[(ds, "stylegan2")][1]}))

    t3 = {cell: v for (_, cell), v in cell_values(inputs, "table3", budget=budget).items()}

    def pair(x: str, y: str, text: str, key: str, kind: str = "directional", primary: bool = True,
             margin: Margin | None = None) -> None:
        """Claim "FID(x) - FID(y) > 0" (directional) or "FID(x) - FID(y) < margin" (non-inferiority)."""
        if x not in t3 or y not in t3:
            claims.append(_missing(f"Table 3: {text}", "Table 3", _unevaluated(inputs, "table3", None, (x, y), budget),
                                   primary, key=f"table3/{key}"))
            return
        (ex, a), (ey, b) = t3[x], t3[y]
        line = 0.0 if margin is None else margin.fraction * ey.mean
        link = Link(f"FID({x}) - FID({y})", welch(ex, ey), above=margin is None, line=line, margin=margin is not None)
        claims.append(judged(f"Table 3: {text}", "Table 3", kind, [link], _values({x: ex, y: ey}),
                             budget_of(inputs, a + b), margin=margin, reference=None if margin is None else ey.mean,
                             primary=primary, key=f"table3/{key}", inputs=inputs, curves={x: a, y: b}))

    pair("ne", "base", "removing coordinate embeddings (NE) makes FID worse than base", "ne")
    others = [r for r in TABLE3_ROWS if r != "ne" and r in t3]
    text = "removing coordinate embeddings worsens FID most severely (NE is the worst row)"
    if "ne" not in t3 or len(others) < 2:
        claims.append(_missing(f"Table 3: {text}", "Table 3",
                               _unevaluated(inputs, "table3", None, ("ne", *[r for r in TABLE3_ROWS if r != "ne"]),
                                            budget), key="table3/ne-worst"))
    else:
        ne, names = t3["ne"]
        links = [Link(f"FID(ne) - FID({r})", welch(ne, t3[r][0]), above=True) for r in others]
        claims.append(judged(f"Table 3: {text}", "Table 3", "chain", links,
                             _values({"ne": ne, **{r: t3[r][0] for r in others}}),
                             budget_of(inputs, names + [n for r in others for n in t3[r][1]]),
                             note="rows: " + ", ".join(others), key="table3/ne-worst", inputs=inputs,
                             curves={"ne": names, **{r: t3[r][1] for r in others}}))
    pair("nofourier", "base", "without Fourier features FID is worse than base", "nofourier")
    pair("sine", "base", "sine activations make FID worse than base", "sine")
    pair("base", "residual", "residual blocks improve FID (base is worse than residual)", "residual")
    pair("base", "main", "skip connections (cumulative projection to RGB) improve FID (base is worse than main)",
         "skips")
    # weaker readings, beside their primary claims and outside the family
    pair("residual", "base", "residual blocks do not make FID worse (weaker reading)", "residual-no-worse",
         "non-inferiority",
         primary=False, margin=NO_WORSE)
    pair("main", "base", "skip connections do not make FID worse (weaker reading)", "skips-no-worse",
         "non-inferiority",
         primary=False, margin=NO_WORSE)
    pair("sine", "nofourier", "the activation alone: sine is worse than leaky ReLU without Fourier features "
         "(the paper's sine row has none; 10.0 against 10.18)", "sine-nofourier", primary=False)

    t5 = cell_values(inputs, "table5", budget=budget)
    for ds in sorted({d for d, _ in declared_cells(inputs, "table5", budget)}) or _undeclared(budget):
        text = f"Table 5 ({ds}): full-image FID gets worse as the patch size K shrinks"
        cells = {c: t5.get((ds, c)) for c in ("full", "half", "quarter")}
        if any(v is None for v in cells.values()):
            claims.append(_missing(text, "Table 5", _unevaluated(inputs, "table5", ds, ("full", "half", "quarter"),
                                                                 budget), key=f"table5/{ds}"))
            continue
        links = [Link("FID(half) - FID(full)", welch(cells["half"][0], cells["full"][0]), above=True),
                 Link("FID(quarter) - FID(half)", welch(cells["quarter"][0], cells["half"][0]), above=True)]
        claims.append(judged(text, "Table 5", "chain", links, _values({c: v[0] for c, v in cells.items()}),
                             budget_of(inputs, [n for v in cells.values() for n in v[1]]),
                             key=f"table5/{ds}", inputs=inputs, curves={c: v[1] for c, v in cells.items()}))
    return claims


def _analysis_runs(inputs: ReportInputs, section: str) -> dict[str, str]:
    """role -> the run analysis.<section> names for it (encodings: base only, the Fig. 4 claim's run)."""
    spec = getattr(inputs.params.analysis, section)
    roles = tuple(SPECTRA_ROLES) if section == "spectra" else ("base",)
    return {role: run for role in roles if spec and (run := getattr(spec, role, None)) in inputs.params.runs}


SPECTRA_LABELS = {label: role for role, label in SPECTRA_ROLES.items()}  # spectra.npz's names -> roles


def figure_claims(inputs: ReportInputs) -> dict[int | None, list[Claim]]:
    """Figs. 4 and 7 and the skip-connection remark from the analysis stages' data, by budget (images): the runs
    the analyses name (None: none of them is declared) and, under budget/<images>/ (cips.analysis.budgets),
    their twins at the scale's other budgets; every seed of each."""
    layout = inputs.layout
    paths = {"encodings": layout.report_data("encodings.npz"), "spectra": layout.report_data("spectra.npz")}
    skipped = {k: skipped_reason(p) for k, p in paths.items()}
    data = {}
    for k, path in paths.items():
        if path.is_file() and not skipped[k]:
            with np.load(path, allow_pickle=False) as z:
                data[k] = {key: z[key] for key in z.files}
    named = {k: _analysis_runs(inputs, k) for k in paths}
    members = [n for runs in named.values() for r in runs.values() for n in inputs.params.members_of(r)]
    out = {images_of(inputs, members[0]) if members else None: _figures_at(
        inputs, {k: (d, named[k]) for k, d in data.items()},
        {k: skipped[k] or f"no {p}" for k, p in paths.items()})}
    twins = sorted({int(key.split("/")[1]) for d in data.values() for key in d if key.startswith("budget/")})
    for budget in twins:
        at = f"budget/{budget}/"
        found = {}  # the budget's arrays without their prefix (and the real images' profile, shared by all)
        for k, d in data.items():
            if f"{at}runs" in d:
                arrays = {key[len(at):]: v for key, v in d.items() if key.startswith(at)}
                arrays.update({key: d[key] for key in ("real/profile",) if key in d})
                runs = {SPECTRA_LABELS.get(r, r): run for r, run in json.loads(str(d[f"{at}runs"])).items()}
                found[k] = (arrays, runs)
        out[budget] = _figures_at(inputs, found, {k: f"no {at} data in {p}" for k, p in paths.items()})
    return out


def _figures_at(inputs: ReportInputs, data: dict[str, tuple[dict, dict[str, str]]],
                why: dict[str, str]) -> list[Claim]:
    """The figure claims of one budget: `data` is analysis ("encodings", "spectra") -> (its arrays with the
    budget's prefix removed, role -> run), `why` the reason a missing analysis gives."""
    claims: list[Claim] = []

    def cells(runs: dict[str, str], roles: Sequence[str] | None = None) -> dict[str, list[str]]:
        return {role: inputs.params.members_of(run) for role, run in runs.items()
                if run in inputs.params.runs and (roles is None or role in roles)}

    def seeds_of(values: np.ndarray, run: str | None) -> np.ndarray:
        """The per-seed rows of `run` that this view keeps: the analyses store one per seed, in seed order, so a
        view of the first seeds keeps the first rows of a run that declares seeds."""
        seeds = (inputs.params.runs.get(run) or {}).get("seeds") if run else None
        return values if inputs.seed_limit is None or seeds is None else values[:inputs.seed_limit]

    def budget(runs: dict[str, str]) -> str:
        base = runs.get("base") or next(iter(runs.values()), None)
        return budget_of(inputs, inputs.params.members_of(base)) if base in inputs.params.runs else ""

    text4 = "Fig. 4: coordinate embeddings carry more high-frequency power than Fourier features"
    if "encodings" in data:
        enc, runs = data["encodings"]
        base = runs.get("base")
        if "seeds/fig4/embeddings_high_freq" in enc:
            emb = [float(x) for x in seeds_of(enc["seeds/fig4/embeddings_high_freq"], base)]
            fou = [float(x) for x in seeds_of(enc["seeds/fig4/fourier_high_freq"], base)]
        else:
            emb, fou = [float(enc["fig4/embeddings_high_freq"])], [float(enc["fig4/fourier_high_freq"])]
        init = ([float(x) for x in seeds_of(enc["seeds/fig4_init/embeddings_high_freq"], base)],
                [float(x) for x in seeds_of(enc["seeds/fig4_init/fourier_high_freq"], base)]) \
            if "seeds/fig4_init/embeddings_high_freq" in enc else None
        gaps = [e - f for e, f in zip(emb, fou, strict=True)]  # paired: both maps of one generator
        at_init = ("" if init is None else f"at initialisation the same statistic is "
                   f"{np.mean(init[0]) - np.mean(init[1]):.3f} (embeddings {np.mean(init[0]):.3f}, Fourier "
                   f"{np.mean(init[1]):.3f}): see the control")
        link = Link("high-frequency share, embeddings - Fourier", paired(gaps), above=True)
        claims.append(judged(text4, "Fig. 4", "paired", [link],
                             {"embeddings": {"mean": round(float(np.mean(emb)), 4), "n": len(emb)},
                              "fourier": {"mean": round(float(np.mean(fou)), 4), "n": len(fou)}},
                             budget(runs), digits=3, key="fig4", inputs=inputs, curves=cells(runs),
                             note="; ".join(filter(None, ["paired over the seeds of CIPS-base", at_init]))))
        control = "Fig. 4 control: training widens the embeddings' high-frequency lead over the Fourier features"
        if init is None or len(init[0]) != len(gaps):
            claims.append(_missing(control, "Fig. 4", "no shares at initialisation in encodings.npz", primary=False,
                                   key="fig4-control"))
        else:
            change = [g - (e0 - f0) for g, e0, f0 in zip(gaps, *init, strict=True)]
            claims.append(judged(control, "Fig. 4", "paired",
                                 [Link("(gap after training) - (gap at initialisation)", paired(change), above=True)],
                                 {"trained gap": {"mean": round(float(np.mean(gaps)), 4), "n": len(gaps)},
                                  "initial gap": {"mean": round(float(np.mean(init[0]) - np.mean(init[1])), 4),
                                                  "n": len(init[0])}},
                                 budget(runs), digits=3, primary=False, key="fig4-control",
                                 note="the same seeds before their first step; opposite: the lead is the "
                                      "initialisation's (random embeddings are white noise, Fourier features start "
                                      "at low frequencies), and training narrows it"))
    else:
        claims.append(_missing(text4, "Fig. 4", why["encodings"], key="fig4"))

    text7 = ("Fig. 7: over the upper half of frequencies StyleGAN2's azimuthal profile is farthest from the real "
             "images' and CIPS-NE's closest")
    text45 = "Sec. 4.5: skip connections make the spectra less similar to those of natural images"
    if "spectra" in data:
        s, runs = data["spectra"]
        real = s["real/profile"]
        names = [n for n in SPECTRA_LABELS if f"seeds/{n}/profiles" in s or f"{n}/profile" in s]
        upper = slice(len(real) // 2, None)
        profiles = {n: seeds_of(s[f"seeds/{n}/profiles"], runs.get(SPECTRA_LABELS[n]))
                    if f"seeds/{n}/profiles" in s else s[f"{n}/profile"][None] for n in names}
        dist = {n: Estimate([float(np.mean(np.abs(p[upper] - real[upper]))) for p in ps])
                for n, ps in profiles.items()}
        if not {"CIPS-base", "CIPS-NE", "StyleGAN2"} <= set(dist):
            claims.append(_missing(text7, "Fig. 7", "needs the CIPS-base, CIPS-NE and StyleGAN2 runs", key="fig7"))
        else:
            links = [Link("d(StyleGAN2) - d(base)", welch(dist["StyleGAN2"], dist["CIPS-base"]), above=True),
                     Link("d(base) - d(NE)", welch(dist["CIPS-base"], dist["CIPS-NE"]), above=True)]
            claims.append(judged(text7, "Fig. 7", "chain", links, _values(dist, 4), budget(runs), digits=3,
                                 note="d = mean |profile - real| over the upper half of frequencies", key="fig7",
                                 inputs=inputs, curves=cells(runs)))
        if {"CIPS-base", "CIPS-main"} <= set(dist):
            link = Link("d(main) - d(base)", welch(dist["CIPS-main"], dist["CIPS-base"]), above=True)
            claims.append(judged(text45, "Sec. 4.5", "directional", [link],
                                 _values({k: dist[k] for k in ("CIPS-main", "CIPS-base")}, 4), budget(runs),
                                 digits=3, key="sec4.5", inputs=inputs, curves=cells(runs, ("base", "main")),
                                 note="d as in Fig. 7; CIPS-main is CIPS-base with skip connections to the output"))
        else:
            claims.append(_missing(text45, "Sec. 4.5", "needs the spectra of CIPS-main and CIPS-base "
                                   "(analysis.spectra.main and .base)", key="sec4.5"))
    else:
        claims.append(_missing(text7, "Fig. 7", why["spectra"], key="fig7"))
        claims.append(_missing(text45, "Sec. 4.5", why["spectra"], key="sec4.5"))
    return claims


FIRST_SEEDS = 3  # docs/claims.md: where a cell has more seeds, the verdict on its first three is shown beside


def first_seeds(inputs: ReportInputs, n: int = FIRST_SEEDS) -> ReportInputs | None:
    """The same inputs with every run entry cut to its first `n` seeds (None when no entry declares more)."""
    runs, cut = {}, False
    for run, spec in inputs.params.runs.items():
        seeds = (spec or {}).get("seeds")
        if seeds is not None and len(seeds) > n:
            spec, cut = {**spec, "seeds": list(seeds)[:n]}, True
        runs[run] = spec
    if not cut:
        return None
    params = replace(inputs.params, runs=runs)
    kept = params.members()
    return ReportInputs(params, inputs.root, inputs.scale, {k: v for k, v in inputs.runs.items() if k in kept},
                        seed_limit=n)


def first_seeds_label(budget: str, n: int = FIRST_SEEDS) -> str:
    return f"{budget}, seeds 0-{n - 1}"


def all_claims(inputs: ReportInputs) -> list[Claim]:
    """Every claim at every budget the scale trains (docs/claims.md). Each budget is its own family for Holm;
    the figure claims join the budget of the runs they read. At a budget whose cells have more than three seeds,
    the claims on their first three seeds follow as a family of their own ("160 kimg, seeds 0-2")."""
    spans, figures = budgets(inputs), figure_claims(inputs)
    if len(spans) <= 1:
        claims = table_claims(inputs) + [c for fs in figures.values() for c in fs]
        holm(claims)
        return claims
    few = first_seeds(inputs)
    cut = set() if few is None else {images_of(inputs, m) for m in inputs.params.members()
                                     if m not in few.params.members()}
    few_figures = figure_claims(few) if cut else {}
    out: list[Claim] = []
    for budget in sorted(set(spans) | {b for b in figures if b is not None}):
        label = f"{budget / 1000:g} kimg"
        views = [(inputs, figures, label)] + ([(few, few_figures, first_seeds_label(label))] if budget in cut else [])
        for view, figs, name in views:
            family = (table_claims(view, budget) if budget in spans else []) + figs.get(budget, [])
            for c in family:  # one label per budget, whatever its steps x batch
                c.budget = name
            holm(family)
            out += family
    if None in figures:
        holm(figures[None])
        out += figures[None]
    return out


def to_json(claims: list[Claim]) -> str:
    return json.dumps([asdict(c) for c in claims], indent=2)


def _interval(i: list[float] | None, digits: int = 2) -> str:
    """An interval with enough decimals that both ends show their first significant digits (no "[-0.00, -0.00]")."""
    if i is None:
        return "n/a"
    small = max(abs(i[0]), abs(i[1]))
    if 0 < small < 1:
        digits = max(digits, 1 - math.floor(math.log10(small)))
    return f"[{i[0]:.{digits}f}, {i[1]:.{digits}f}]"


def to_markdown(claims: list[Claim], scale: str) -> str:
    budgets = list(dict.fromkeys(c.budget for c in claims if c.budget))  # all_claims: shortest first
    lines = [f"Verdicts at the {scale} scale ({'; '.join(budgets) or 'no budget trained'}), by the rules of "
             "docs/claims.md: each link a one-sided test at 5% (its 90% interval shown) on the difference of cell "
             "means over seeds; non-inferiority against a margin derived from the paper's own numbers. Beside "
             "each verdict: after Holm's correction over the primary claims, at half and twice the margin, and at "
             "the 95% interval. Weaker readings (not in the family) are marked.", "",
             "| claim | test | statistic | 90% interval | verdict | Holm | ½ margin | 2× margin | 95% |",
             "|---|---|---|---|---|---|---|---|---|"]
    by_budget: dict[str, dict[str, Claim]] = {}
    for c in claims:
        by_budget.setdefault(c.claim, {})[c.budget] = c
    if len(budgets) > 1:  # each verdict at every budget, side by side (Holm's in brackets)
        side = ["| claim | " + " | ".join(budgets) + " |", "|---|" + "---|" * len(budgets)]
        for claim, per in by_budget.items():
            cells = [f"**{per[b].verdict}** ({per[b].verdict_holm or '-'})" if b in per else "-" for b in budgets]
            side.append(f"| {claim} | " + " | ".join(cells) + " |")
        lines[2:2] = ["Each verdict at each budget (Holm's verdict in brackets):", "", *side, ""]
        lines[-2] = lines[-2].replace("| claim |", "| claim | budget |", 1)
        lines[-1] = lines[-1].replace("|---|", "|---|---|", 1)
    for c in claims:
        seeds = ", ".join(f"{k}: n={v['n']}" for k, v in c.values.items())
        notes = "; ".join(filter(None, [c.note, caveat(c.moving)]))
        stat = c.statistic + (f" ({seeds})" if seeds else "") + (f"; {notes}" if notes else "")
        name = c.claim if c.primary else f"{c.claim} *(not in the family)*"
        digits = 3 if c.source in ("Fig. 4", "Fig. 7", "Table 2") else 2
        name += f" | {c.budget}" if len(budgets) > 1 else ""
        lines.append(f"| {name} | {c.test} | {stat} | {_interval(c.interval, digits)} | **{c.verdict}** | "
                     f"{c.verdict_holm or '-'} | {c.verdict_half_margin or '-'} | {c.verdict_twice_margin or '-'} "
                     f"| {c.verdict_95} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# a user's own comparison of two run entries, judged as the paper's claims are


def compare_groups(inputs: ReportInputs, a: str, b: str, key: str = "fid", worse: bool = True) -> Claim:
    """The claim "`a` is worse than `b`" (higher `key`; `worse` False: better) on the evaluated seeds of two run
    entries: the difference of their means, its 90% Welch interval, the one-sided verdict at 5%, n and the
    power column, exactly as a directional claim of docs/claims.md (one comparison: no Holm family)."""
    cells = {}
    for run in (a, b):
        names = inputs.params.members_of(run)  # one line naming an unknown run
        have = [(n, v) for n in names if (v := _metric(inputs, n, key)) is not None]
        if not have:
            raise ValueError(f"runs.{run}: none of its {len(names)} model(s) has a {key} in metrics.json "
                             "(train and evaluate it first: cips lanes)")
        cells[run] = (Estimate([v for _, v in have]), [n for n, _ in have])
    (ea, na), (eb, nb) = cells[a], cells[b]
    link = Link(f"{key.upper()}({a}) - {key.upper()}({b})", welch(ea, eb), above=worse)
    text = f"{a} is {'worse' if worse else 'better'} than {b} ({'higher' if worse else 'lower'} {key})"
    return judged(text, "compare", "directional", [link], _values({a: ea, b: eb}), budget_of(inputs, na + nb),
                  key=f"compare/{a}/{b}", inputs=inputs, curves={a: na, b: nb})
