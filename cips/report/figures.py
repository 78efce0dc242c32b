"""Figures 3-7 and the sample grids, rendered with matplotlib (Agg) into reports/figures/ as PNG and PDF.

Inputs: reports/data/encodings.npz (Figs. 3-6, stages/encodings.py), reports/data/spectra.npz (Fig. 7,
stages/spectra.py) and runs/<run>/eval_samples.png. A missing input skips its figure with a log line.
Every caption states what the figure shows, its conventions and counts, and the scale when it is not the
paper's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API: no backend to select at import, no global state

from cips.config import SPECTRA_ROLES
from cips.draw import caption, save, scale_prefix
from cips.report.inputs import ReportInputs

log = logging.getLogger("cips.report")

ENCODING_NAMES = {"fourier": "Fourier features", "embeddings": "coordinate embeddings"}
FIG7_ORDER = ("real", "CIPS-base", "CIPS-NE", "StyleGAN2", "CIPS-main")


def figures_dir(inputs: ReportInputs) -> Path:
    return inputs.layout.figures


def data_path(inputs: ReportInputs, name: str) -> Path:
    return inputs.layout.report_data(name)


def prefix_of(inputs: ReportInputs) -> str:
    """The scale sentence opening the captions of `inputs`' scale."""
    return scale_prefix(inputs.scale, inputs.comparable_scale)


def to_unit(image: np.ndarray) -> np.ndarray:
    """A generator image in [-1, 1] (H, W, C) as RGB in [0, 1] (grey channels repeated)."""
    x = np.clip((np.asarray(image, dtype=np.float64) + 1) / 2, 0, 1)
    return np.repeat(x, 3, axis=-1) if x.ndim == 3 and x.shape[-1] == 1 else x


def image_row(title: str, panels: list[tuple[str, np.ndarray]], text: str, cmap: str | None = None,
              limits: tuple[float, float] | None = None, colorbar: str = "") -> Figure:
    fig = Figure(figsize=(3.0 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    shown = None
    for ax, (label, img) in zip(axes, panels, strict=True):
        kw = {"vmin": limits[0], "vmax": limits[1]} if limits else {}
        shown = ax.imshow(img, cmap=cmap, interpolation="nearest", **kw)
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    if colorbar and shown is not None:
        fig.colorbar(shown, ax=list(axes), shrink=0.8, label=colorbar)
    caption(fig, axes[0], title, text, below=0.3 if colorbar else 0.12)  # clear of the colour bar's ticks
    return fig


def encodings_source(inputs: ReportInputs) -> str:
    spec = inputs.params.analysis.encodings
    if spec is None:
        return "no analysis.encodings"
    return f"CIPS-base run {spec.base}" + (f", CIPS-NE run {spec.ne}" if spec.ne else "")


def encodings_seed(inputs: ReportInputs) -> int:
    return inputs.params.analysis.encodings.seed if inputs.params.analysis.encodings else 0


# --------------------------------------------------------------------------------------------
# Figs. 3-6 (encodings.npz)


def fig3(inputs: ReportInputs, z: dict[str, np.ndarray]) -> Figure | None:
    panels = [(label, to_unit(z[key])) for key, label in (("fig3/base_mean_style", "CIPS-base"),
                                                           ("fig3/ne_mean_style", "CIPS-NE")) if key in z]
    if not panels:
        return None
    text = (f"{prefix_of(inputs)}The image of the mean style w (mean of the mapping network's output), noise "
            f"off; {encodings_source(inputs)}.")
    return image_row("Fig. 3: images of the mean style", panels, text)


def fig4(inputs: ReportInputs, z: dict[str, np.ndarray]) -> Figure | None:
    names = [n for n in ENCODING_NAMES if f"fig4/{n}_spectrum" in z]
    if not names:
        return None
    limits = tuple(float(v) for v in z["fig4/limits"]) if "fig4/limits" in z else None
    panels = [(ENCODING_NAMES[n], z[f"fig4/{n}_spectrum"]) for n in names]
    high = ", ".join(f"{ENCODING_NAMES[n]} {float(z[f'fig4/{n}_high_freq']):.1%}" for n in names
                     if f"fig4/{n}_high_freq" in z)
    text = (f"{prefix_of(inputs)}Magnitude spectra of the positional encodings of CIPS-base "
            f"({encodings_source(inputs)}): per-channel 2-D FFT over the training grid, channel mean removed, "
            f"shifted (DC at the centre), |F| averaged over channels, log10; one colour scale (1st-99.9th "
            f"percentile of both). Share of power beyond half the Nyquist radius: {high or 'n/a'}.")
    return image_row("Fig. 4: spectra of the positional encodings", panels, text, cmap="viridis", limits=limits,
                     colorbar="log10 |F|")


def fig5(inputs: ReportInputs, z: dict[str, np.ndarray]) -> Figure | None:
    names = [n for n in ENCODING_NAMES if f"fig5/{n}_pca" in z]
    if not names:
        return None
    panels = []
    for n in names:
        var = z.get(f"fig5/{n}_variance")
        share = f"\n(explained variance {', '.join(f'{v:.0%}' for v in var)})" if var is not None else ""
        panels.append((ENCODING_NAMES[n] + share, np.clip(z[f"fig5/{n}_pca"], 0, 1)))
    text = (f"{prefix_of(inputs)}First three principal components of each pixel's encoding vector shown as "
            f"RGB (each component scaled between its 1st and 99th percentile); {encodings_source(inputs)}.")
    return image_row("Fig. 5: PCA of the positional encodings", panels, text)


def fig6(inputs: ReportInputs, z: dict[str, np.ndarray]) -> Figure | None:
    keys = (("fig6/normal", "normal"), ("fig6/no_embeddings", "coordinate embeddings zeroed"),
            ("fig6/no_fourier", "Fourier features zeroed"))
    panels = [(label, to_unit(z[key])) for key, label in keys if key in z]
    if not panels:
        return None
    text = (f"{prefix_of(inputs)}One image of CIPS-base (one latent, seed {encodings_seed(inputs)}, noise "
            f"off) rendered normally and with each positional encoding set to zero; {encodings_source(inputs)}.")
    return image_row("Fig. 6: the role of each encoding", panels, text)


# --------------------------------------------------------------------------------------------
# Fig. 7 (spectra.npz)


def load_spectra_npz(path: Path) -> dict:
    """{'names', 'params', 'caption', '<name>/mean_spectrum', ...} of stages/spectra.py's file."""
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["names"] = [str(n) for n in data.get("names", [])]
    data["params"] = json.loads(str(data["params"])) if "params" in data else {}
    data["caption"] = str(data.get("caption", ""))
    return data


def spectra_order(names: list[str]) -> list[str]:
    return [n for n in FIG7_ORDER if n in names] + [n for n in names if n not in FIG7_ORDER]


def spectra_text(inputs: ReportInputs, s: dict) -> str:
    counts = ", ".join(f"{n} {int(s[f'{n}/n'])}" for n in spectra_order(s["names"]) if f"{n}/n" in s)
    spec = inputs.params.analysis.spectra
    runs = ", ".join(f"{k} = {getattr(spec, k)}" for k in SPECTRA_ROLES if spec and getattr(spec, k))
    params = ", ".join(f"{k}={v}" for k, v in s["params"].items())
    return (f"{prefix_of(inputs)}{s['caption']} Images per set: {counts}. Real images: dataset "
            f"{spec.dataset if spec else '?'}; runs: {runs or 'n/a'}. Settings: {params}.")


def fig7_spectra(inputs: ReportInputs, s: dict) -> Figure | None:
    names = [n for n in spectra_order(s["names"]) if f"{n}/mean_spectrum" in s]
    if not names:
        return None
    maps = [s[f"{n}/mean_spectrum"] for n in names]
    values = np.concatenate([m[np.isfinite(m)].ravel() for m in maps])
    limits = (float(np.percentile(values, 1)), float(np.percentile(values, 99.9)))
    return image_row("Fig. 7a: mean magnitude spectra", list(zip(names, maps, strict=True)),
                     spectra_text(inputs, s), cmap="magma", limits=limits, colorbar="mean log magnitude")


def fig7_profile(inputs: ReportInputs, s: dict) -> Figure | None:
    names = [n for n in spectra_order(s["names"]) if f"{n}/profile" in s]
    if not names:
        return None
    fig = Figure(figsize=(6.5, 4.2))
    ax = fig.subplots()
    for n in names:
        r, p = s[f"{n}/radii"], s[f"{n}/profile"]
        style = {"color": "black", "lw": 2.0} if n == "real" else {"lw": 1.4}
        ax.plot(r, p, label=f"{n} (n={int(s[f'{n}/n'])})" if f"{n}/n" in s else n, **style)
        color = ax.lines[-1].get_color()
        if f"{n}/profile_std" in s:
            std = s[f"{n}/profile_std"]
            ax.fill_between(r, p - std, p + std, alpha=0.12, color=color)
        for other in s.get(f"seeds/{n}/profiles", [])[1:]:  # the run's other seeds, which the claim pools
            ax.plot(r, other, color=color, lw=0.7, ls="--", alpha=0.8)
    ax.set_xlabel("spatial frequency (ring radius, cycles per image)")
    ax.set_ylabel("azimuthal mean of the log spectrum" + (" / DC" if s["params"].get("normalise") == "dc" else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    seeds = {n: len(s[f"seeds/{n}/profiles"]) for n in names if f"seeds/{n}/profiles" in s}
    band = " Band: ±1 std across images."
    if any(k > 1 for k in seeds.values()):
        band = (" Band: ±1 std across the first seed's images. Solid: the first seed of each run; dashed: its "
                f"other seeds ({', '.join(f'{n} {k}' for n, k in seeds.items())} seeds in all), pooled by the "
                "Fig. 7 claim.")
    caption(fig, ax, "Fig. 7b: azimuthal integration of the spectra", spectra_text(inputs, s) + band,
            above=0.1, below=0.5)
    return fig


# --------------------------------------------------------------------------------------------
# sample grids (Fig. 1 style)


def samples_figure(inputs: ReportInputs, run: str, path: Path) -> Figure:
    from PIL import Image

    with Image.open(path) as im:
        grid = np.asarray(im.convert("RGB"))
    cfg = inputs.params.run(run)
    out = inputs.runs[run]
    step = out.step
    fig = Figure(figsize=(6.0, 6.0 * grid.shape[0] / max(grid.shape[1], 1)))
    ax = fig.subplots()
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    fid = (out.metrics or {}).get("fid")
    text = (f"{prefix_of(inputs)}Uncurated samples of run {run} ({cfg.model.arch}, dataset {cfg.dataset}, "
            f"{cfg.model.size}x{cfg.model.size}), EMA generator"
            + (f" at step {step}" if step is not None else "")
            + f", truncation {cfg.eval.truncation:g}, the first {cfg.eval.grid} of the evaluation's samples"
            + (f" (FID {fid:.2f} on N={cfg.eval.n_generated})" if fid is not None else "") + ".")
    caption(fig, ax, f"Samples: {run}", text, above=0.1)
    return fig


# --------------------------------------------------------------------------------------------
# all of them


def _load(path: Path, loader: Callable[[Path], dict]) -> dict | None:
    if not path.is_file():
        return None
    from cips.files import skipped_reason

    if (reason := skipped_reason(path)) is not None:
        log.info("%s: skipped by its stage (%s)", path, reason)
        return None
    try:
        return loader(path)
    except (OSError, ValueError, KeyError) as err:
        log.warning("%s: unreadable (%s); its figures are skipped", path, err)
        return None


def _npz(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


PANEL_TABLES = {"table1": "Table 1", "table3": "Table 3", "table5": "Table 5"}  # table2 repeats table1's runs


def learning_curves(inputs: ReportInputs) -> Figure | None:
    """FID against kimg of every run that measured a learning curve (train.eval_every), log scale, one panel
    per table and dataset (a run feeding several tables is drawn in each, so every panel holds the runs it
    compares); a run with several seeds is the mean over its seeds with a band from the lowest to the highest.
    A role trained at several budgets (`fashion-base`, `fashion-base-long`) keeps one colour: its longest budget
    solid, the shorter ones dashed; they are separate trainings, so the two curves show the spread of a draw."""
    curves = {run: out.train["curve"] for run, out in inputs.runs.items() if out.train and out.train.get("curve")}
    if not curves:
        return None
    from matplotlib.ticker import FuncFormatter, LogLocator

    from cips.analysis.budgets import images

    members = inputs.params.members()
    groups: dict[str, list[list[dict]]] = {}
    for run, points in curves.items():
        if run in members:  # a folder of a run no longer in params.yaml is not drawn
            groups.setdefault(members[run][0], []).append(points)
    if not groups:
        return None
    # panel title -> role -> budget (images) -> (legend label, per-seed curves)
    panels: dict[str, dict[str, dict[int, tuple[str, list[list[dict]]]]]] = {}
    for group, seeds in groups.items():
        cfg = inputs.params.run(inputs.params.members_of(group)[0])  # seeds share dataset and tables
        for table in [t for t in PANEL_TABLES if t in cfg.tables] or ["other"]:
            title = f"{PANEL_TABLES.get(table, 'Other runs')} ({cfg.dataset})"
            role = cfg.tables.get(table, group)
            label = f"{group} ({role})" if table in cfg.tables else group
            panels.setdefault(title, {}).setdefault(role, {})[images(inputs.params, group)] = (label, seeds)
    budgets = {b for roles in panels.values() for by_budget in roles.values() for b in by_budget}
    fig = Figure(figsize=(3.4 * len(panels) + 0.6, 4.6 if len(budgets) == 1 else 5.4))
    width = 0.9 / len(panels)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    first = None
    for i, (title, roles) in enumerate(sorted(panels.items())):
        ax = fig.add_axes((0.06 + i * width, 0.42, width * 0.8, 0.45), sharey=first)
        first = first or ax
        for j, by_budget in enumerate(roles.values()):
            colour = f"C{j % 10}"  # matplotlib's cycle, as the plain default would give
            longest = max(by_budget)
            for budget, (label, seeds) in sorted(by_budget.items(), reverse=True):
                steps = min(len(p) for p in seeds)  # seeds still training have fewer points: the common prefix
                kimg = [p["kimg"] for p in seeds[0][:steps]]
                fids = np.array([[p["fid"] for p in s[:steps]] for s in seeds])
                ax.plot(kimg, fids.mean(0), marker="o", markersize=3 if budget == longest else 2,
                        color=colour, linestyle="-" if budget == longest else "--",
                        label=label + (f", n={len(seeds)}" if len(seeds) > 1 else ""))
                if len(seeds) > 1:
                    ax.fill_between(kimg, fids.min(0), fids.max(0), color=colour,
                                    alpha=0.15 if budget == longest else 0.07, linewidth=0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("kimg (thousands of real images shown)", fontsize=8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_locator(LogLocator(subs=(1.5, 2, 3, 5, 7)))
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="y", which="minor", labelsize=6)
        ax.grid(alpha=0.3, which="both")
        entries = sum(len(b) for b in roles.values())
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False,
                  ncol=2 if entries > 6 else 1)
    first.set_ylabel("FID (small N, log scale)")
    n = sorted({int(inputs.params.run(r).train.eval_n) for r in curves if r in members})
    bands = " Runs with several seeds: the mean, and a band from the lowest to the highest seed." if any(
        len(s) > 1 for s in groups.values()) else ""
    twins = (" A model trained at several budgets keeps its colour: the longest solid, the shorter dashed (a"
             " separate training, not a prefix of the longer)." if len(budgets) > 1 else "")
    text = (f"{prefix_of(inputs)}FID of the EMA generator measured during training: "
            f"{'/'.join(map(str, n)) or '?'} samples against as many real images, so biased upwards; the "
            f"evaluate stage scores the final model at the scale's protocol. One panel per table and dataset; "
            f"a run feeding several tables appears in each.{bands}{twins}")
    caption(fig, first, "Learning curves", text, below=1.6 if len(budgets) == 1 else 2.0)
    return fig


def render_figures(inputs: ReportInputs) -> list[str]:
    """Render every figure whose inputs exist; returns the names written (without extension)."""
    out_dir = figures_dir(inputs)
    made: list[str] = []

    def emit(name: str, fig: Figure | None, source: Path) -> None:
        if fig is None:
            log.info("%s: skipped (%s has none of its arrays)", name, source)
            return
        save(fig, out_dir, name)
        made.append(name)

    enc_path = data_path(inputs, "encodings.npz")
    enc = _load(enc_path, _npz)
    for name, fn in (("fig3", fig3), ("fig4", fig4), ("fig5", fig5), ("fig6", fig6)):
        if enc is None:
            log.info("%s: skipped (no %s; run `dvc repro encodings`)", name, enc_path)
        else:
            emit(name, fn(inputs, enc), enc_path)
    spec_path = data_path(inputs, "spectra.npz")
    spectra = _load(spec_path, load_spectra_npz)
    for name, fn in (("fig7_spectra", fig7_spectra), ("fig7_profile", fig7_profile)):
        if spectra is None:
            log.info("%s: skipped (no %s; run `dvc repro spectra`)", name, spec_path)
        else:
            emit(name, fn(inputs, spectra), spec_path)
    emit("learning_curves", learning_curves(inputs), Path("runs/*/train.json"))
    # a run's first seed shows its samples
    firsts = {inputs.params.members_of(r)[0] for r in inputs.params.runs if not inputs.params.absent(r)}
    for run, out in inputs.runs.items():
        if run not in firsts:
            continue
        if out.samples is None:
            log.info("samples_%s: skipped (no runs/%s/eval_samples.png)", run, run)
            continue
        emit(f"samples_{run}", samples_figure(inputs, run, out.samples), out.samples)
    from cips.report.beyond import render_beyond  # the per-pixel figures (reports/data/beyond.npz)

    made += render_beyond(inputs)
    return made
