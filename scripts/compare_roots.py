"""Compare the evaluated runs of two project roots at one scale, e.g. this machine's against another's.

    python scripts/compare_roots.py OTHER [--root .] [--scale small] [--names here there] [--out FILE.md]

For every (run, seed) evaluated in both roots: FID and KID in each and their difference, how far the learning curves
(train.json) agree bit for bit, and whether the EMA generators are the same bit for bit (or their largest weight
difference); then the spread of the differences
beside the seed-to-seed spread of the same runs; and, when OTHER has evaluated every run ROOT has, the claims of
`cips-report claims` that FID decides (Tables 1, 3, 5) with their verdict and interval in each root. OTHER
needs no params.yaml of its own: both roots are read with ROOT's configs/<scale>.yaml.
"""

from __future__ import annotations

import argparse
import sys
from itertools import zip_longest
from pathlib import Path

import numpy as np
import torch

from cips.files import write_bytes_atomic
from cips.layout import scale_config
from cips.models.checkpoint import torch_load_data
from cips.report.claims import all_claims
from cips.report.inputs import ReportInputs, load_inputs

ROOT = Path(__file__).resolve().parent.parent


def weights_difference(a: Path, b: Path) -> float | None:
    """Largest |difference| over the EMA generator weights of two generator.pt files (0.0: bit for bit equal)."""
    if not (a.is_file() and b.is_file()):
        return None
    ga, gb = torch_load_data(a)["g_ema"], torch_load_data(b)["g_ema"]
    if ga.keys() != gb.keys():
        return float("inf")
    worst = 0.0
    for k, ta in ga.items():
        tb = gb[k]
        if ta.shape != tb.shape:
            return float("inf")
        if not torch.equal(ta, tb):
            worst = max(worst, float((ta.double() - tb.double()).abs().max()), np.finfo(np.float32).tiny)
    return worst


def curve_agreement(a: dict | None, b: dict | None) -> tuple[int | None, int | None] | None:
    """(last step through which two train.json learning curves are equal bit for bit, FID and KID; first step where
    they differ), None where either has no curve. A retrain from the same config is expected to agree throughout;
    a run resumed after a curve point only up to that point (docs/reproducibility.md)."""
    ca, cb = (a or {}).get("curve"), (b or {}).get("curve")
    if not ca or not cb:
        return None
    equal_through = None
    for pa, pb in zip_longest(ca, cb, fillvalue={}):  # a curve that stops early differs at the other's next point
        if [pa.get(k) for k in ("step", "fid", "kid")] != [pb.get(k) for k in ("step", "fid", "kid")]:
            return equal_through, min(p["step"] for p in (pa, pb) if p)
        equal_through = pa["step"]
    return equal_through, None


def member_rows(a: ReportInputs, b: ReportInputs) -> list[dict]:
    rows = []
    for name, out_a in a.evaluated().items():
        out_b = b.runs.get(name)
        if out_b is None or out_b.metrics is None:
            continue
        ma, mb = out_a.metrics, out_b.metrics
        rows.append({"run": name, "fid_a": ma["fid"], "fid_b": mb["fid"], "kid_a": ma["kid"], "kid_b": mb["kid"],
                     "curve": curve_agreement(out_a.train, out_b.train),
                     "weights": weights_difference(a.layout.generator(name), b.layout.generator(name))})
    return rows


def seed_spread(inputs: ReportInputs, names: set[str]) -> float | None:
    """Pooled standard deviation of FID over the evaluated seeds of the runs `names` belong to."""
    wanted = {inputs.params.run(name).group for name in names}
    groups: dict[str, list[float]] = {}
    for name, out in inputs.evaluated().items():
        group = inputs.params.run(name).group
        if group in wanted:
            groups.setdefault(group, []).append(out.metrics["fid"])
    sized = [v for v in groups.values() if len(v) > 1]
    if not sized:
        return None
    return float(np.sqrt(sum((len(v) - 1) * np.var(v, ddof=1) for v in sized) / sum(len(v) - 1 for v in sized)))


def _weights(d: float | None) -> str:
    return "-" if d is None else "bit for bit" if d == 0 else f"differ (max {d:.2g})"


def _curve(agreement: tuple[int | None, int | None] | None) -> str:
    if agreement is None:
        return "- | -"
    through, first = agreement
    return f"{'none' if through is None else through} | {'-' if first is None else first}"


def _delta(d: float) -> str:
    return f"{d:+.1e}" if 0 < abs(d) < 0.005 else f"{d:+.2f}"


def _interval(iv: list[float] | None) -> str:
    return "-" if iv is None else f"[{iv[0]:.2f}, {iv[1]:.2f}]"


def compare(a: ReportInputs, b: ReportInputs, names: tuple[str, str]) -> str:
    rows = member_rows(a, b)
    if not rows:
        sys.exit(f"error: {b.root}: no run evaluated in both roots at scale {a.scale!r}")
    na, nb = names
    out = [f"FID and KID of the same (run, seed), {na} and {nb}, scale {a.scale}:", "",
           f"| run | FID {na} | FID {nb} | FID {nb} - {na} | KID {na} | KID {nb} | curve equal through step | "
           "first differing step | EMA generator |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['run']} | {r['fid_a']:.2f} | {r['fid_b']:.2f} | {_delta(r['fid_b'] - r['fid_a'])} | "
                   f"{r['kid_a']:.4f} | {r['kid_b']:.4f} | {_curve(r['curve'])} | {_weights(r['weights'])} |")
    deltas = np.array([r["fid_b"] - r["fid_a"] for r in rows])
    spread = seed_spread(a, {r["run"] for r in rows})
    out += ["", f"{len(rows)} runs: FID {nb} - {na} from {deltas.min():+.3g} to {deltas.max():+.3g}, "
            f"median |difference| {np.median(np.abs(deltas)):.3g}"
            + (f"; for scale, the seed-to-seed standard deviation of FID over these runs' seeds ({na}, pooled) is "
               f"{spread:.2f}."
               if spread is not None else "."), ""]
    missing = len(a.evaluated()) - len(rows)
    if missing:
        return "\n".join(out + [f"Claims not compared: {missing} of the {len(a.evaluated())} runs evaluated in "
                                 f"{na} are not evaluated in {nb}."]) + "\n"
    claims_b = {c.claim: c for c in all_claims(b)}
    out += [f"| claim (FID decides) | verdict {na} | interval {na} | verdict {nb} | interval {nb} |",
            "|---|---|---|---|---|"]
    for c in all_claims(a):
        other = claims_b.get(c.claim)
        if not c.source.startswith("Table") or other is None:
            continue
        out.append(f"| {c.claim} | {c.verdict} | {_interval(c.interval)} | {other.verdict} | "
                   f"{_interval(other.interval)} |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="the other project root (its runs/<scale>/)")
    ap.add_argument("--root", type=Path, default=ROOT, help="this root (default: the repository)")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--names", nargs=2, default=("committed", "other"), metavar=("ROOT", "OTHER"))
    ap.add_argument("--out", type=Path, help="also write the markdown here")
    args = ap.parse_args()
    params = scale_config(ROOT, args.scale)
    if not params.is_file():
        sys.exit(f"error: {params}: no such scale")
    a = load_inputs(params, args.root.resolve(), args.scale)
    b = load_inputs(params, args.other.resolve(), args.scale)
    text = compare(a, b, tuple(args.names))
    if args.out:
        write_bytes_atomic(text.encode(), args.out)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
