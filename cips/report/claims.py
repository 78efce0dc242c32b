"""The paper's claims as checks: each claim, its source, the statistic, an interval and a computed verdict.

Numbers of one table cell are pooled over every run that feeds the cell (a run per seed). A comparison
uses the difference of the two cells' means with a 95% Welch t-interval; a claim is *reproduced* when the
interval lies on the claimed side, *opposite* when it lies on the other side, *inconclusive* otherwise
(the interval straddles the line, or a cell has fewer than two seeds, so there is no interval at all).
Claims of "no worse" and "comparable" use a stated margin relative to the reference cell's mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from cips.report.inputs import ReportInputs

REPRODUCED, OPPOSITE, INCONCLUSIVE = "reproduced", "opposite", "inconclusive"
CONFIDENCE = 0.95
NO_WORSE_MARGIN = 0.10  # "does not hurt": at most 10% above the reference FID
COMPARABLE_MARGIN = 0.20  # "comparable": within 20% of the reference FID (the paper's Table 1 gaps: 9-25%)


@dataclass
class Estimate:
    """Mean of `values` with a 95% t-interval (None below two values)."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    def interval(self) -> tuple[float, float] | None:
        if self.n < 2:
            return None
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, self.n - 1) * np.std(self.values, ddof=1) / math.sqrt(self.n)
        return self.mean - half, self.mean + half


def difference(a: Estimate, b: Estimate) -> tuple[float, tuple[float, float] | None]:
    """mean(a) - mean(b) and its 95% Welch t-interval (None when either side has fewer than two values)."""
    diff = a.mean - b.mean
    if a.n < 2 or b.n < 2:
        return diff, None
    va, vb = np.var(a.values, ddof=1) / a.n, np.var(b.values, ddof=1) / b.n
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, (diff, diff)
    dof = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * se
    return diff, (diff - half, diff + half)


def above(interval: tuple[float, float] | None, line: float = 0.0) -> str:
    """Verdict for a claim that a quantity lies above `line`, from its interval."""
    if interval is None:
        return INCONCLUSIVE
    low, high = interval
    return REPRODUCED if low > line else OPPOSITE if high < line else INCONCLUSIVE


def within(interval: tuple[float, float] | None, margin: float) -> str:
    """Verdict for |quantity| <= margin (equivalence): reproduced when the interval lies inside, opposite
    when it lies wholly outside."""
    if interval is None:
        return INCONCLUSIVE
    low, high = interval
    if -margin <= low and high <= margin:
        return REPRODUCED
    return OPPOSITE if low > margin or high < -margin else INCONCLUSIVE


def no_worse(interval: tuple[float, float] | None, margin: float) -> str:
    """Verdict for "at most `margin` above": reproduced when the whole interval is below the margin, opposite
    when the whole interval is above it."""
    if interval is None:
        return INCONCLUSIVE
    low, high = interval
    return REPRODUCED if high <= margin else OPPOSITE if low > margin else INCONCLUSIVE


def all_of(verdicts: Sequence[str]) -> str:
    if any(v == OPPOSITE for v in verdicts):
        return OPPOSITE
    return REPRODUCED if verdicts and all(v == REPRODUCED for v in verdicts) else INCONCLUSIVE


@dataclass
class Claim:
    claim: str
    source: str
    statistic: str
    verdict: str
    interval: list[float] | None = None
    values: dict = field(default_factory=dict)  # cell -> {"mean", "n"}
    note: str = ""


def _fmt_interval(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(float(interval[0]), 4), round(float(interval[1]), 4)]


def declared_cells(inputs: ReportInputs, table: str) -> dict[tuple[str, str], list[str]]:
    """(dataset, cell) -> every member the scale declares for that cell of `table`, evaluated or not."""
    out: dict[tuple[str, str], list[str]] = {}
    for name in inputs.params.members():
        run = inputs.params.run(name)
        if (cell := run.tables.get(table)) is not None:
            out.setdefault((run.dataset, cell), []).append(name)
    return out


def _fid(inputs: ReportInputs, name: str) -> float | None:
    metrics = inputs.runs[name].metrics if name in inputs.runs else None
    fid = (metrics or {}).get("fid")
    return float(fid) if isinstance(fid, int | float) else None


def _unevaluated(inputs: ReportInputs, table: str, dataset: str | None, cells: tuple[str, ...]) -> str:
    """Why a claim cannot be tested yet: per cell, how many of its declared members have an FID."""
    declared = declared_cells(inputs, table)
    parts = []
    for cell in cells:
        names = [n for (d, c), ns in declared.items() if c == cell and dataset in (None, d) for n in ns]
        done = sum(_fid(inputs, n) is not None for n in names)
        parts.append(f"{cell} {done} of {len(names)} evaluated" if names else f"{cell} not declared")
    return "no FIDs to compare yet (" + ", ".join(parts) + ")"


def cell_fids(inputs: ReportInputs, table: str) -> dict[tuple[str, str], Estimate]:
    """(dataset, cell) -> the FIDs of every evaluated run feeding that cell of `table`."""
    out: dict[tuple[str, str], Estimate] = {}
    for key, names in declared_cells(inputs, table).items():
        fids = [f for f in (_fid(inputs, n) for n in names) if f is not None]
        if fids:
            out[key] = Estimate(fids)
    return out


def _comparison(claim: str, source: str, a: tuple[str, Estimate], b: tuple[str, Estimate], verdict_of,
                statistic: str) -> Claim:
    diff, interval = difference(a[1], b[1])
    single = [name for name, est in (a, b) if est.n < 2]
    return Claim(claim, source, f"{statistic} = {diff:.2f}", verdict_of(interval), _fmt_interval(interval),
                 {a[0]: {"mean": round(a[1].mean, 3), "n": a[1].n}, b[0]: {"mean": round(b[1].mean, 3), "n": b[1].n}},
                 note=f"one seed of {' and '.join(single)}: no interval" if single else "")


def _missing(claim: str, source: str, why: str) -> Claim:
    return Claim(claim, source, "n/a", INCONCLUSIVE, note=f"not tested: {why}")


def _two_steps_note(steps: list[tuple[float, tuple[float, float] | None]], digits: int) -> str:
    """A chain of two differences: the Claim's interval is the first's, this note gives the second's."""
    second = steps[1][1]
    shown = "none (one seed)" if second is None else f"[{second[0]:.{digits}f}, {second[1]:.{digits}f}]"
    return f"interval: of the first difference (the second's: {shown}); the verdict needs both above zero"


def table_claims(inputs: ReportInputs) -> list[Claim]:
    claims: list[Claim] = []
    t1 = cell_fids(inputs, "table1")
    datasets = sorted({d for d, _ in declared_cells(inputs, "table1")})
    for ds in datasets or ["(none)"]:
        text = f"Table 1 ({ds}): CIPS and StyleGAN2 reach comparable FID"
        if (ds, "cips") not in t1 or (ds, "stylegan2") not in t1:
            claims.append(_missing(text, "Table 1", _unevaluated(inputs, "table1", ds, ("cips", "stylegan2"))))
            continue
        sg2 = t1[(ds, "stylegan2")]
        c = _comparison(text, "Table 1", ("cips", t1[(ds, "cips")]), ("stylegan2", sg2),
                        lambda i, m=COMPARABLE_MARGIN * sg2.mean: within(i, m), "FID(CIPS) - FID(StyleGAN2)")
        c.note = "; ".join(filter(None, (f"comparable = within {COMPARABLE_MARGIN:.0%} of StyleGAN2's FID "
                                         f"({COMPARABLE_MARGIN * sg2.mean:.2f})", c.note)))
        claims.append(c)

    t3 = {cell: est for (_, cell), est in cell_fids(inputs, "table3").items()}
    # The paper's sine row also lacks Fourier features, so sine - base mixes two changes; sine - nofourier
    # (the same generator but for the activation) isolates the activation.
    worse = [("ne", "base", "without coordinate embeddings (NE) FID is worse than base"),
             ("nofourier", "base", "without Fourier features FID is worse than base"),
             ("sine", "base", "sine activations give worse FID than leaky ReLU (base)"),
             ("sine", "nofourier", "the activation alone: sine is worse than leaky ReLU when neither has Fourier "
              "features (sine vs no-Fourier; the paper: 10.0 vs 10.18)")]
    for cell, ref, text in worse:
        if cell not in t3 or ref not in t3:
            claims.append(_missing(f"Table 3: {text}", "Table 3", _unevaluated(inputs, "table3", None, (cell, ref))))
            continue
        claims.append(_comparison(f"Table 3: {text}", "Table 3", (cell, t3[cell]), (ref, t3[ref]), above,
                                  f"FID({cell}) - FID({ref})"))
    no_hurt = (("main", "skip connections do not hurt FID"), ("residual", "residual connections do not hurt FID"))
    for cell, text in no_hurt:
        if cell not in t3 or "base" not in t3:
            claims.append(_missing(f"Table 3: {text}", "Table 3", _unevaluated(inputs, "table3", None, (cell, "base"))))
            continue
        margin = NO_WORSE_MARGIN * t3["base"].mean
        c = _comparison(f"Table 3: {text}", "Table 3", (cell, t3[cell]), ("base", t3["base"]),
                        lambda i, m=margin: no_worse(i, m), f"FID({cell}) - FID(base)")
        c.note = "; ".join(filter(None, (f"no worse = at most {NO_WORSE_MARGIN:.0%} above base ({margin:.2f})",
                                         c.note)))
        claims.append(c)

    t5 = cell_fids(inputs, "table5")
    for ds in sorted({d for d, _ in declared_cells(inputs, "table5")}) or ["(none)"]:
        text = f"Table 5 ({ds}): full-image FID gets worse as the patch size K shrinks"
        cells = {c: t5.get((ds, c)) for c in ("full", "half", "quarter")}
        if any(v is None for v in cells.values()):
            claims.append(_missing(text, "Table 5", _unevaluated(inputs, "table5", ds, ("full", "half", "quarter"))))
            continue
        steps = [difference(cells["half"], cells["full"]), difference(cells["quarter"], cells["half"])]
        verdict = all_of([above(i) for _, i in steps])
        claims.append(Claim(text, "Table 5", f"FID(half) - FID(full) = {steps[0][0]:.2f}; "
                            f"FID(quarter) - FID(half) = {steps[1][0]:.2f}", verdict,
                            _fmt_interval(steps[0][1]) if steps[0][1] else None,
                            {c: {"mean": round(v.mean, 3), "n": v.n} for c, v in cells.items()},
                            note=_two_steps_note(steps, 2)))
    return claims


def figure_claims(inputs: ReportInputs) -> list[Claim]:
    """Figs. 4 and 7, from the analysis stages' data: every seed of the runs the analyses name (one seed: a
    point estimate, inconclusive)."""

    claims: list[Claim] = []
    layout = inputs.layout
    text4 = "Fig. 4: coordinate embeddings carry more high-frequency power than Fourier features"
    enc_path = layout.report_data("encodings.npz")
    if enc_path.is_file():
        with np.load(enc_path) as enc:
            if "seeds/fig4/embeddings_high_freq" in enc:
                emb = [float(x) for x in enc["seeds/fig4/embeddings_high_freq"]]
                fou = [float(x) for x in enc["seeds/fig4/fourier_high_freq"]]
            else:
                emb, fou = [float(enc["fig4/embeddings_high_freq"])], [float(enc["fig4/fourier_high_freq"])]
        share = Estimate([e - f for e, f in zip(emb, fou, strict=True)])  # paired: both maps of one generator
        interval = share.interval()
        claims.append(Claim(text4, "Fig. 4", f"high-frequency share, embeddings - Fourier = {share.mean:.3f} "
                            f"(embeddings {np.mean(emb):.3f}, Fourier {np.mean(fou):.3f})", above(interval),
                            _fmt_interval(interval), {"base": {"mean": round(share.mean, 4), "n": share.n}},
                            note="paired over the seeds of CIPS-base" if share.n > 1 else
                            "one CIPS-base seed: a point estimate without an interval; the point estimate "
                            f"{'agrees' if share.mean > 0 else 'disagrees'}"))
    else:
        claims.append(_missing(text4, "Fig. 4", f"no {enc_path}"))
    text7 = ("Fig. 7: over the upper half of frequencies StyleGAN2's azimuthal profile is farthest from the real "
             "images' and CIPS-NE's closest")
    spec_path = layout.report_data("spectra.npz")
    if spec_path.is_file():
        with np.load(spec_path, allow_pickle=False) as s:
            names = [n for n in ("CIPS-base", "CIPS-NE", "StyleGAN2") if f"{n}/profile" in s]
            real = s["real/profile"]
            upper = slice(len(real) // 2, None)
            profiles = {n: s[f"seeds/{n}/profiles"] if f"seeds/{n}/profiles" in s else s[f"{n}/profile"][None]
                        for n in names}
        dist = {n: Estimate([float(np.mean(np.abs(p[upper] - real[upper]))) for p in ps])
                for n, ps in profiles.items()}
        if len(dist) < 3:
            claims.append(_missing(text7, "Fig. 7", "needs the CIPS-base, CIPS-NE and StyleGAN2 runs"))
        else:
            steps = [difference(dist["StyleGAN2"], dist["CIPS-base"]), difference(dist["CIPS-base"], dist["CIPS-NE"])]
            verdict = all_of([above(i) for _, i in steps])
            n1 = all(d.n == 1 for d in dist.values())
            order = sorted(dist, key=lambda k: dist[k].mean)
            agrees = order[-1] == "StyleGAN2" and order[0] == "CIPS-NE"
            claims.append(Claim(
                text7, "Fig. 7", "mean |profile - real| over the upper half: "
                + ", ".join(f"{n} {d.mean:.3f}" for n, d in dist.items())
                + f"; d(StyleGAN2) - d(base) = {steps[0][0]:.3f}; d(base) - d(NE) = {steps[1][0]:.3f}",
                verdict, _fmt_interval(steps[0][1]), {n: {"mean": round(d.mean, 4), "n": d.n} for n, d in dist.items()},
                note=("one seed per model: a point estimate without an interval; the point estimate "
                      f"{'agrees' if agrees else 'disagrees'}") if n1 else
                _two_steps_note(steps, 3)))
    else:
        claims.append(_missing(text7, "Fig. 7", f"no {spec_path}"))
    return claims


def all_claims(inputs: ReportInputs) -> list[Claim]:
    return table_claims(inputs) + figure_claims(inputs)


def to_json(claims: list[Claim]) -> str:
    return json.dumps([asdict(c) for c in claims], indent=2)


def to_markdown(claims: list[Claim], scale: str) -> str:
    lines = [f"Verdicts at the {scale} scale: 95% Welch t-interval of the difference of cell means over "
             "seeds (runs feeding a cell); inconclusive when the interval straddles the line or a cell has one "
             "seed.", "", "| claim | source | statistic | 95% interval | verdict |", "|---|---|---|---|---|"]
    for c in claims:
        interval = "n/a" if c.interval is None else f"[{c.interval[0]:.2f}, {c.interval[1]:.2f}]"
        seeds = ", ".join(f"{k}: n={v['n']}" for k, v in c.values.items())
        stat = c.statistic + (f" ({seeds})" if seeds else "") + (f"; {c.note}" if c.note else "")
        lines.append(f"| {c.claim} | {c.source} | {stat} | {interval} | **{c.verdict}** |")
    return "\n".join(lines) + "\n"
