"""The README's generated blocks, written from the committed results: the evidence (one line per primary claim)
and the table of committed models.

Each block sits between two markers in README.md; `cips-report build` at the headline scale refreshes them and
`cips-report evidence` prints them, so the README says what `cips-report claims` computes and nothing else (a
test compares the two). Per claim: the paper's numbers, ours at the headline budget (the longest) with n, the
difference with its 90% interval, the distance the test finds with 80% power, the verdict and its Holm verdict,
and the verdict at the shortest budget (with, where one was recorded, the verdict that budget got under the
rules before docs/claims.md).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from cips import paper as pub
from cips.files import write_bytes_atomic
from cips.report.claims import Claim, all_claims, first_seeds_label, images_of
from cips.report.inputs import ReportInputs

EVIDENCE_SCALE = "small"  # the scale whose verdicts the README leads with
BLOCKS = ("evidence", "models")  # README.md's generated parts, each between its two markers
WIDTH = 115  # the notes under the table, wrapped as the README's prose is
EARLIER = "earlier_verdicts.json"  # reports/<scale>/: verdicts under the rules before docs/claims.md, if recorded

CELL_NAMES = {"cips": "CIPS", "stylegan2": "StyleGAN2", "ne": "NE", "nofourier": "no-Fourier", "main": "main",
              "CIPS-base": "base", "CIPS-NE": "NE", "CIPS-main": "main", "embeddings": "embeddings",
              "fourier": "Fourier", "cips precision": "CIPS precision", "stylegan2 precision": "StyleGAN2 precision",
              "cips recall": "CIPS recall", "stylegan2 recall": "StyleGAN2 recall"}
T3 = {row: spec["fid"] for row, spec in pub.TABLE3_ABLATIONS.items()}


def paper_side(key: str, inputs: ReportInputs) -> str:
    """The claim in a few words, with the paper's own numbers."""
    kind, _, ds = key.partition("/")
    stands = getattr(inputs.params.datasets.get(ds), "stands_for", None) if ds else None
    label = pub.DATASET_LABELS.get(stands or "", stands or ds)
    if kind == "table1":
        fid = pub.TABLE1_FID.get(stands or "", {})
        said = f"{label} {fid['cips']} vs {fid['stylegan2']}" if fid else label
        return f"Table 1, {ds}: CIPS comparable with StyleGAN2 ({said})"
    if kind == "table2":
        c, s = pub.TABLE2_PR["cips"], pub.TABLE2_PR["stylegan2"]
        return (f"Table 2: CIPS higher precision, lower recall ({c['precision']} vs {s['precision']}, "
                f"{c['recall']} vs {s['recall']})")
    if kind == "table5":
        fids = pub.TABLE5_PATCH_FID.get(stands or "", {})
        said = ", ".join(str(v) for v in fids.values())
        return f"Table 5, {ds}: FID worsens as the patch shrinks ({label} {said})"
    return {
        "table3/ne": f"Table 3: no embeddings (NE) worsens FID ({T3['ne']} vs base {T3['base']})",
        "table3/ne-worst": f"Table 3: NE is the worst row ({T3['ne']}; the others {min(T3.values())}-"
                           f"{sorted(T3.values())[-2]})",
        "table3/nofourier": f"Table 3: no Fourier features worsens FID ({T3['nofourier']} vs {T3['base']})",
        "table3/sine": f"Table 3: sine activations worsen FID ({T3['sine']} vs {T3['base']})",
        "table3/residual": f"Table 3: residual blocks improve FID ({T3['residual']} vs {T3['base']})",
        "table3/skips": f"Table 3: skips improve FID ({T3['main']} vs {T3['base']})",
        "fig4": "Fig. 4: embeddings carry more high frequencies than Fourier features",
        "fig7": "Fig. 7: StyleGAN2's spectrum farthest from the real one, NE's closest",
        "sec4.5": "Sec. 4.5: skips make the spectra less natural",
    }.get(key, key)


def _num(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 1 else f"{x:.1f}"


def ours(claim: Claim) -> str:
    """The cells' means with n: both cells of a pair, the first cell and the range of the others in a chain."""
    cells = [(CELL_NAMES.get(k, k), v["mean"], v["n"]) for k, v in claim.values.items()]
    if not cells:
        return "-"
    if len(cells) > 2 and claim.source != "Table 2":
        head, rest = cells[0], cells[1:]
        means = [m for _, m, _ in rest]
        ns = sorted({n for _, _, n in cells})
        return (f"{head[0]} {_num(head[1])}, the others {_num(min(means))}-{_num(max(means))} "
                f"(n {'/'.join(map(str, ns))})")
    if claim.source == "Table 2":
        cells = cells[:2]
    return ", ".join(f"{name} {_num(mean)}" for name, mean, _ in cells) + \
        f" (n {', '.join(str(n) for _, _, n in cells)})"


def difference(claim: Claim) -> str:
    if claim.interval is None:
        return "-" if claim.kind == "not tested" else claim.statistic.split(" = ")[-1] + " (no interval)"
    value = claim.statistic.split(";")[0].split(" = ")[-1]
    low, high = claim.interval
    digits = 3 if max(abs(low), abs(high)) < 1 else 1
    text = f"{float(value):+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"
    if claim.margin is not None:
        text += f", margin {claim.margin:.1f}"
    if claim.kind == "chain":
        text += " (first link)"
    return text


def power(claim: Claim) -> str:
    d = claim.detectable[0] if claim.detectable else None
    return "-" if d is None else _num(d)


def verdict(claim: Claim | None) -> str:
    if claim is None:
        return "not run"
    if claim.kind == "not tested":
        return "not tested"
    return f"**{claim.verdict}** / {claim.verdict_holm or '-'}"


def kimg(budget: str) -> float:
    """160.0 from the budget label "160 kimg" (or "160 kimg, seeds 0-2")."""
    return float(budget.split()[0])


def headline_budget(inputs: ReportInputs, claims: list[Claim]) -> tuple[str, str]:
    """(the budget whose verdicts lead, the view the block's columns read): the longest budget; while some of its
    declared models are not evaluated, its view on seeds 0-2 (docs/claims.md: n = 5 is primary once trained)."""
    budgets = [b for b in dict.fromkeys(c.budget for c in claims) if b and ", seeds" not in b]
    longest = max(budgets, key=kimg)
    done, declared = evaluated_at(inputs, longest)
    few = first_seeds_label(longest)
    return longest, few if done < declared and any(c.budget == few for c in claims) else longest


def evaluated_at(inputs: ReportInputs, budget: str) -> tuple[int, int]:
    """(evaluated, declared) models at `budget`."""
    at = [m for m in inputs.params.members() if images_of(inputs, m) == kimg(budget) * 1000]
    return sum(m in inputs.evaluated() for m in at), len(at)


def model_name(inputs: ReportInputs, run: str) -> str:
    """fashion-cips-long-s2 -> cips: the model a seed belongs to, without dataset and budget."""
    group = inputs.params.members(absent=True).get(run, (run, None))[0]
    return re.sub(r"-long$", "", group.split("-", 1)[-1])


def evidence_block(inputs: ReportInputs) -> str:
    """The README's evidence block (markdown, without its markers)."""
    claims = all_claims(inputs)
    longest, shown = headline_budget(inputs, claims)
    shortest = min((b for b in dict.fromkeys(c.budget for c in claims) if b and ", seeds" not in b),
                   key=kimg)
    earlier = _earlier(inputs)
    at: dict[str, dict[str, Claim]] = {}
    for c in claims:
        if c.primary and c.key:
            at.setdefault(c.key, {})[c.budget] = c
    header = [f"| claim (the paper's numbers) | ours at {shown} | difference [90% interval] | finds (80% power) "
              f"| verdict / Holm | {shortest} (earlier rules) |", "|---|---|---|---|---|---|"]
    rows = []
    for key, per in at.items():
        head, short = per.get(shown), per.get(shortest)
        before = earlier.get("verdicts", {}).get(key)
        short_text = verdict(short).replace("**", "") + (f" ({before})" if before else "")
        mine = ours(head) if head and head.kind != "not tested" else None
        if mine is None and short is not None:  # not run at the headline budget: the shortest speaks
            head, mine = short, ours(short) + f", at {shortest}"
        rows.append(f"| {paper_side(key, inputs)} | {mine or '-'} | {difference(head) if head else '-'} | "
                    f"{power(head) if head else '-'} | {verdict(head)} | {short_text} |")
    notes = [textwrap.fill(line.replace(" kimg", "\u00a0kimg"), WIDTH, initial_indent="- ",
                           subsequent_indent="  ").replace("\u00a0", " ")  # "160 kimg" on one line
             for line in footer(inputs, claims, longest, shown, shortest, earlier)]
    return "\n".join(header + rows + [""] + notes) + "\n"


def footer(inputs: ReportInputs, claims: list[Claim], longest: str, shown: str, shortest: str,
           earlier: dict) -> list[str]:
    floors = {}
    for name, out in inputs.evaluated().items():
        floor = (out.metrics.get("floor") or {}).get("fid")
        if floor is not None:
            floors.setdefault(inputs.params.run(name).dataset, floor)
    family = sum(1 for c in claims if c.budget == shown and c.primary)
    moving = sorted({model_name(inputs, m["run"]) for c in claims if c.budget == shown for m in c.moving})
    models = sorted({model_name(inputs, m) for m in inputs.params.members()
                     if images_of(inputs, m) == kimg(longest) * 1000 and m in inputs.evaluated()})
    flat = [m for m in models if m not in moving]
    done, declared = evaluated_at(inputs, longest)
    lines = [
        "n: seeds per cell, each a model trained from scratch; FID of 2,000 samples against 2,000 real images at "
        "32x32 (real-vs-real floor: " + ", ".join(f"{d} {f:.1f}" for d, f in sorted(floors.items())) +
        "); the scale tests the direction of a claim, not its value." +
        (f" At {longest} {done} of {declared} models are evaluated: the column shows seeds 0-2 until all are."
         if shown != longest else ""),
        "Rule (docs/claims.md): a one-sided test at 5% per claim on the difference of cell means (its 90% Welch "
        f"interval); \"comparable\" is non-inferiority at 53% of StyleGAN2's FID; Holm over the {family} claims of "
        f"the budget. The {longest} rules were committed before its numbers; the {shortest} verdicts are judged by "
        "rules written after those numbers existed" + (" (in brackets: their verdicts under the rules before, "
                                                      "where recorded)." if earlier else "."),
        "Learning curves at " + shown.split(",")[0] + ": " + (
            "still moving (a seed's last two points more than 3% apart, either way) in " + ", ".join(moving)
            if moving else "none still moving") + ("; flat: " + ", ".join(flat) if flat else "") +
        ". Every verdict compares models still learning, at equal numbers of images.",
        "Per seed, the curves, the weaker readings and the verdicts under other margins and levels: "
        "[reports/small/findings.md](reports/small/findings.md) and `cips-report claims --scale small`.",
    ]
    return lines


def _earlier(inputs: ReportInputs) -> dict:
    path = inputs.layout.reports / EARLIER
    return json.loads(path.read_text()) if path.is_file() else {}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin (written by cips-report; do not edit) -->", f"<!-- {name}:end -->"


def replace_block(text: str, name: str, block: str, where: str = "README.md") -> str:
    """`text` with its block `name` (between the markers) replaced by `block`."""
    begin, end = markers(name)
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{where}: no {name} markers ({begin} ... {end})")
    return pattern.sub(lambda _: f"{begin}\n{block}{end}", text, count=1)


def read_block(text: str, name: str) -> str | None:
    """The block `name` of `text` (None without its markers)."""
    begin, end = markers(name)
    found = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, re.S)
    return None if found is None else found.group(1)


def models_block(inputs: ReportInputs) -> str:
    """The committed models of the scale, one line per run entry: seeds, budget, FID (mean and range)."""
    lines = ["| run | seeds | images | FID, mean (range) |", "|---|---|---|---|"]
    for run in inputs.params.runs:
        members = inputs.params.members_of(run)
        done = [(m, inputs.runs[m].metrics["fid"]) for m in members if m in inputs.evaluated()]
        if not done:
            continue
        seeds = [inputs.params.members()[m][1] for m, _ in done]
        fids = [f for _, f in done]
        spread = f"{min(fids):.1f}-{max(fids):.1f}" if len(fids) > 1 else "one seed"
        todo = len(members) - len(done)
        seed_text = (f"{min(seeds)}-{max(seeds)}" if len(seeds) > 1 else str(seeds[0] or 0)) + \
            (f" ({todo} more declared)" if todo else "")
        lines.append(f"| `{run}` | {seed_text} | {images_of(inputs, done[0][0]) / 1000:g}k | "
                     f"{sum(fids) / len(fids):.1f} ({spread}) |")
    return "\n".join(lines) + "\n"


def blocks(inputs: ReportInputs) -> dict[str, str]:
    """README.md's generated blocks, by name."""
    return {"evidence": evidence_block(inputs), "models": models_block(inputs)}


def refresh_readme(inputs: ReportInputs, readme: Path | None = None) -> Path | None:
    """Rewrite the generated blocks of the project's README.md (None: the scale is not the headline one, or the
    README has no markers)."""
    readme = readme or Path(inputs.root) / "README.md"
    if inputs.scale != EVIDENCE_SCALE or not readme.is_file():
        return None
    text = new = readme.read_text()
    present = [name for name in BLOCKS if read_block(text, name) is not None]
    if not present:
        return None
    for name, block in blocks(inputs).items():
        if name in present:
            new = replace_block(new, name, block, str(readme))
    return write_bytes_atomic(new.encode(), readme) if new != text else readme
