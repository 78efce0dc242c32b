"""The per-pixel figures (the paper's Figs. 8-11, 15, 17-19) drawn from the arrays of `cips.beyond.sections`.

The `beyond` stage computes the arrays into reports/data/beyond.npz and logs these figures to MLflow, the
report renders them from that file (`cips.report.beyond`), and the `cips` commands draw the same figures for
any checkpoint. Every function takes the arrays and a caption prefix (the scale sentence, or "" for a single
checkpoint).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cips.draw import caption, caption_around

# What only a per-pixel generator can do (the report's "Beyond the tables", stage beyond), by file name
TITLES = {
    "fig8_foveated": "Fig. 8: foveated synthesis (5 %, 25 %, 50 %, 100 % of the pixels rendered)",
    "fig9_superres": "Fig. 9: super-resolution by a denser grid, beside Lanczos upsampling",
    "fig10_interpolation": "Fig. 10: latent interpolation (linear in w)",
    "fig11_panorama": "Figs. 11, 17: panoramas and per-pixel style blending",
    "fig15_patches": "Fig. 15: patch-trained beside full-image samples",
    "fig18_neighbours": "Fig. 18: nearest training images in Inception feature space",
    "fig19_mixing": "Fig. 19: layer-wise style mixing",
}
SECTION = {"fig8": "fig8_foveated", "fig9": "fig9_superres", "fig10": "fig10_interpolation",
           "fig11": "fig11_panorama", "fig15": "fig15_patches", "fig18": "fig18_neighbours",
           "fig19": "fig19_mixing"}


def load(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of reports/data/beyond.npz (or a command's figure)."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def meta_of(data: dict[str, np.ndarray], figure: str) -> dict:
    """The JSON "meta" of one figure ("fig8", ...) or of the whole file ("meta"); {} where absent."""
    key = "meta" if figure == "meta" else f"{figure}/meta"
    return json.loads(str(data[key])) if key in data else {}


def title_of(name: str) -> str:
    """'fig15_patches_ffhq' -> its title with the suffix in parentheses."""
    base = max((b for b in TITLES if name == b or name.startswith(b + "_")), key=len)
    return TITLES[base] + (f" ({name[len(base) + 1:]})" if name != base else "")


def source_text(meta: dict) -> str:
    step = f" at step {meta['step']}" if meta.get("step") is not None else ""
    trunc = f", truncation {meta['truncation']:g}" if meta.get("truncation", 1.0) != 1.0 else ""
    return f"Run {meta.get('run', '?')} ({meta.get('size', '?')}x{meta.get('size', '?')}, EMA generator{step}{trunc})"


def montage(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """(R, C, H, W, 3) uint8 -> one (R*(H+pad)-pad, C*(W+pad)-pad, 3) image on white."""
    r, c, h, w, _ = images.shape
    out = np.full((r * (h + pad) - pad, c * (w + pad) - pad, 3), 255, np.uint8)
    for i in range(r):
        for j in range(c):
            out[i * (h + pad): i * (h + pad) + h, j * (w + pad): j * (w + pad) + w] = images[i, j]
    return out


def montage_figure(images: np.ndarray, title: str, text: str, col_labels: list[str] | None = None,
                   row_labels: list[str] | None = None, cell: float = 1.1, pad: int = 2) -> Figure:
    """One imshow of a grid of tiles, labelled above the columns and left of the rows."""
    r, c, h, w, _ = images.shape
    scale = cell / max(h, w) * (w if w > h else h)
    fig = Figure(figsize=(max(4.0, c * scale * w / max(h, w) + (1.4 if row_labels else 0.2)),
                          r * cell * h / max(h, w) + 0.4))
    ax = fig.add_axes((0.2 if row_labels else 0.02, 0.02, 0.78 if row_labels else 0.96, 0.96))
    ax.imshow(montage(images, pad), interpolation="nearest")
    ax.set_axis_off()
    for j, label in enumerate(col_labels or []):
        ax.text(j * (w + pad) + w / 2, -pad, label, ha="center", va="bottom", fontsize=7)
    for i, label in enumerate(row_labels or []):
        ax.text(-pad * 2, i * (h + pad) + h / 2, label, ha="right", va="center", fontsize=7)
    caption(fig, ax, title, text, above=0.3 if col_labels else 0.1)
    return fig


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _db(v: float | None) -> str:
    return "inf (exact)" if v is None else f"{v:.1f} dB"


# --------------------------------------------------------------------------------------------
# one function per figure: (arrays, caption prefix) -> Figure


NOT_RENDERED = (255, 0, 255)  # magenta: absent from the demo's and the paper's datasets' typical colours


def fig8(d: dict, prefix: str = "") -> Figure:
    m = meta_of(d, "fig8")
    imgs, masks = d["fig8/images"], d["fig8/masks"]
    n = len(imgs)
    fig = Figure(figsize=(2.3 * n, 5.0))
    axes = fig.subplots(2, n, squeeze=False)
    for j in range(n):
        frac = m["fractions"][j]
        l1 = m["masked_l1"][j]
        axes[0, j].imshow(imgs[j], interpolation="nearest")
        axes[0, j].set_title(f"{frac:.0%} rendered\nPSNR {_db(m['psnr'][j])}"
                             + (f", L1 {l1:.3f}" if l1 is not None else ""), fontsize=8)
        sparse = np.where(masks[j][..., None], imgs[j], np.array(NOT_RENDERED, np.uint8)).astype(np.uint8)
        axes[1, j].imshow(sparse, interpolation="nearest")
        if frac >= 1:
            label = f"the full render\n{_ms(m['full_s'])}"
        else:
            saved = 1 - m["render_s"][j] / m["full_s"] if m["full_s"] > 0 else math.nan
            label = f"render {_ms(m['render_s'][j])}\n({saved:.0%} time saved)"
        axes[1, j].set_title(label, fontsize=8)
        for ax in axes[:, j]:
            ax.set_axis_off()
    parts = [(f, r, fl) for f, r, fl in zip(m["fractions"], m["render_s"], m["fill_s"], strict=True) if f < 1]
    times = "; ".join(f"{f:.0%} {_ms(r)} + {_ms(fl)}" for f, r, fl in parts)
    text = (f"{prefix}{source_text(m)}, seed {m['seed']}, per-pixel noise off. Top: the image with only a "
            f"fraction of its pixels rendered (drawn without replacement from a Gaussian of std {m['spread']:g} in "
            f"coordinate units = {m['spread'] / 2:.2g} x image size around the centre) and the rest filled by cubic "
            f"interpolation; bottom: the rendered pixels (magenta: not rendered). PSNR over all pixels and mean "
            f"|error| over the interpolated pixels only (L1, images in [0, 1]) are against the full render; "
            f"rendered pixels equal it exactly. Times (best of {m['repeats']}): full render {_ms(m['full_s'])}; "
            f"subset render + fill: {times}. At small sizes on a CPU a pass's fixed cost dominates, so rendering "
            "saves less than the share of pixels skipped, and filling can cost more than it saves.")
    caption_around(fig, axes[0, 0], axes[1, 0], TITLES["fig8_foveated"], text)
    return fig


def fig9(d: dict, prefix: str = "") -> Figure:
    m = meta_of(d, "fig9")
    factors = m["factors"]
    size = m["size"]
    big = size * factors[-1]
    panels = [(f"CIPS {f}x ({size * f}x{size * f})", d[f"fig9/x{f}"]) for f in factors]
    panels.append((f"Lanczos of 1x to {big}x{big}", d["fig9/lanczos"]))
    fig = Figure(figsize=(2.4 * len(panels), 5.4))
    gs = fig.add_gridspec(2, len(panels), height_ratios=[1, 0.9], wspace=0.3)
    for j, (label, img) in enumerate(panels):
        ax = fig.add_subplot(gs[0, j])
        ax.imshow(img, interpolation="nearest", extent=(0, big, big, 0))  # same displayed size
        ax.set_title(label, fontsize=8)
        ax.set_axis_off()
    specs = [d["fig9/spectrum_cips"], d["fig9/spectrum_lanczos"]]
    values = np.concatenate([s[np.isfinite(s)].ravel() for s in specs])
    lo, hi = float(np.percentile(values, 1)), float(np.percentile(values, 99.9))
    nyq = m["beyond_nyquist"]
    for j, (label, spec) in enumerate(((f"spectrum, CIPS {factors[-1]}x", specs[0]),
                                       ("spectrum, Lanczos", specs[1]))):
        ax = fig.add_subplot(gs[1, j])
        ax.imshow(spec, cmap="magma", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.set_axis_off()
    ax = fig.add_subplot(gs[1, 2:])
    for name, style in (("cips", {"color": "tab:blue"}), ("lanczos", {"color": "tab:orange", "ls": "--"})):
        p = d[f"fig9/profile_{name}"]
        ax.plot(np.arange(len(p)), p, lw=1.3, label=f"{'CIPS' if name == 'cips' else 'Lanczos'} "
                f"({nyq[name]:.1%} of power beyond the 1x band)", **style)
    ax.axvline(size / 2, color="grey", lw=0.8, ls=":")
    ax.text(size / 2, 0.03, " 1x Nyquist", fontsize=7, va="bottom", transform=ax.get_xaxis_transform())
    ax.set_xlabel("ring radius (cycles per image)", fontsize=8)
    ax.set_ylabel("azimuthal mean of the log spectrum / DC", fontsize=7)
    ax.yaxis.set_label_position("right")  # clear of the spectrum beside it
    ax.yaxis.tick_right()
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    text = (f"{prefix}{source_text(m)}, seed {m['seed']}, per-pixel noise off. The same latent rendered on "
            f"grids {', '.join(f'{f}x' for f in factors)} as dense as the training grid (same [-1, 1] extent), "
            f"and the 1x image upsampled with Lanczos (PIL, float), all shown at one size. Bottom: log "
            f"magnitude spectra (grayscale, one colour scale) and azimuthal profiles of the {big}x{big} images. "
            f"Lanczos cannot add frequencies the 1x image lacks (above its Nyquist frequency, {size // 2} cycles "
            f"per image, in x or y) beyond its filter's leakage; a denser grid can: power (DC excluded) outside "
            f"that band: CIPS {nyq['cips']:.1%}, Lanczos {nyq['lanczos']:.1%}.")
    caption_around(fig, fig.axes[0], ax, TITLES["fig9_superres"], text, below=0.45)
    return fig


def fig10(d: dict, prefix: str = "") -> Figure:
    m = meta_of(d, "fig10")
    imgs = d["fig10/images"]
    seeds = m["seeds"]
    steps = m["steps"]
    rows = [f"seed {a} -> {b}" for a, b in zip(seeds[:-1], seeds[1:], strict=True)]
    cols = [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
    how = "linearly in the style w = M(z)" if m["mode"] == "w" else "spherically (slerp) in z"
    ratio = ", ".join(f"{r:.2f}" for r in m["largest_over_mean_step"])
    text = (f"{prefix}{source_text(m)}, per-pixel noise off. Each row interpolates {how} between the latents "
            f"of two seeds (left, right) in {steps} frames. Largest change between consecutive frames over the "
            f"mean change, per row: {ratio} (1 = perfectly even morph).")
    return montage_figure(imgs, TITLES["fig10_interpolation"].replace(
        "linear in w", "linear in w" if m["mode"] == "w" else "slerp in z"), text, cols, rows)


def fig11(d: dict, prefix: str = "") -> Figure:
    m = meta_of(d, "fig11")
    pans, blend = d["fig11/panoramas"], d["fig11/blend"]
    images = [(f"A (seed {m['seeds'][0]})", pans[0]), (f"B (seed {m['seeds'][1]})", pans[1]),
              ("A in the middle, B at the edges, blended per pixel", blend)]
    h, w = blend.shape[:2]
    fig = Figure(figsize=(min(14.0, max(6.0, 1.9 * w / h)), 3 * (1.9 * h / h) + 0.4))
    axes = fig.subplots(3, 1)
    cylinder = m["kind"] == "cylinder"
    x0, x1 = m["extent_x"]
    for ax, (label, img) in zip(axes, images, strict=True):
        ax.imshow(img, interpolation="nearest", aspect="equal")
        ax.set_title(label, fontsize=8)
        ax.set_axis_off()
        if not cylinder:  # where the training extent [-1, 1] ends
            for x in (-1.0, 1.0):
                ax.axvline((x - x0) / (x1 - x0) * (w - 1), color="white", lw=0.8, ls="--")
    if cylinder:
        seams = m["seams"]
        seam = "; ".join(f"{name}: {s['across']:.3f} across the seam vs {s['neighbours_mean']:.3f} mean "
                         f"(95th percentile {s['neighbours_p95']:.3f}) between other neighbouring columns"
                         for name, s in zip(("A", "B", "blend"), seams, strict=True))
        what = (f"The whole cylinder ({w} columns around, cylinder circumference {m['panorama_width']} training "
                f"pixels) of a generator trained on random crops of it. The wrap-around seam (last column next "
                f"to the first), mean |difference| in [0, 1]: {seam}.")
    else:
        what = ((f"{m['note'][0].upper()}{m['note'][1:]}: the " if m["note"] else "The ")
                + f"cartesian generator rendered on a grid "
                f"{(x1 - x0) / 2:.3g} images wide (x from {x0:.2g} to {x1:.2g}, training pixel spacing); "
                "dashed lines: the training extent [-1, 1]. Outside it the generator extrapolates (coordinate "
                "embeddings repeat their border column, Fourier features continue): not a panorama, and there "
                "is no seam to measure.")
    over = "x running around the cylinder" if cylinder else "x clipped to the training extent [-1, 1]"
    rule = f" ({m['seed_rule']}, by mean |difference| of their images)" if m.get("seed_rule") else ""
    text = (f"{prefix}{source_text(m)}, per-pixel noise off{rule}. {what} Bottom: per-pixel style blending, each "
            f"column rendered with its own style (1 - b) w_A + b w_B (all layers), b = (1 + cos(pi (x + 1))) / 2 with "
            f"{over}: A in the middle, B at the edges.")
    caption_around(fig, axes[0], axes[-1], TITLES["fig11_panorama"], text)
    return fig


def fig15(d: dict, prefix: str = "") -> list[tuple[str, Figure]]:
    """One figure per dataset, with its name suffix."""
    m = meta_of(d, "fig15")
    figs = []
    for i, block in enumerate(m["blocks"]):
        imgs = d[f"fig15/block{i}"]
        rows = [f"{r['cell']}: {r['run']}" + (f" (step {r['step']})" if r.get("step") is not None else "")
                for r in block["rows"]]
        size = block["rows"][0]["size"]
        seeds = f"seeds {m['seeds'][0]}-{m['seeds'][-1]}" if len(m["seeds"]) > 1 else f"seed {m['seeds'][0]}"
        table5 = all(r["cell"] in ("full", "half", "quarter") for r in block["rows"])
        if table5:
            what = (f"Dataset {block['dataset']}, {size}x{size}: one row per run of Table 5, the run trained on "
                    f"full images first, then the patch-trained ones (half: KxK = {size // 2}x{size // 2} "
                    f"patches, quarter: {size // 4}x{size // 4})")
        else:
            what = f"{size}x{size}: one row per checkpoint"
        text = (f"{prefix}{what}; the same latents ({seeds}) in every row, EMA generators, per-pixel noise "
                "off.")
        title = title_of(f"fig15_patches_{block['dataset']}") if table5 else "Samples from the same latents"
        figs.append((block["dataset"], montage_figure(imgs, title, text, None, rows)))
    return figs


def fig18(d: dict, prefix: str = "") -> Figure:
    m = meta_of(d, "fig18")
    samples, imgs, dist = d["fig18/samples"], d["fig18/images"], d["fig18/distances"]
    grid = np.concatenate([samples[:, None], imgs], 1)
    rows = [f"seed {s}" for s in m["seeds"]]
    cols = ["sample"] + [f"NN {j + 1}" for j in range(imgs.shape[1])]
    near = ", ".join(f"{v:.1f}" for v in dist[:, 0])
    text = (f"{prefix}{source_text(m)}, per-pixel noise off. Left: generated samples; then the {imgs.shape[1]} "
            f"training images nearest to each in Inception feature space (pool3, 2048-d, Euclidean), nearest "
            f"first, searched among {m['source']}. Distance to the nearest, per row: {near}; a training image's "
            f"median distance to its nearest other training image: {m['typical_gap']:.1f}. A sample far closer "
            "to one training image than training images are to each other would be a copy.")
    fig = montage_figure(grid, TITLES["fig18_neighbours"] + f" ({m.get('dataset', '')})", text, cols, rows)
    ax = fig.axes[0]
    h, w = samples.shape[1:3]
    for i in range(dist.shape[0]):
        for j in range(dist.shape[1]):
            ax.text((j + 1) * (w + 2) + w - 1, i * (h + 2) + h - 1, f"{dist[i, j]:.0f}", ha="right", va="bottom",
                    fontsize=5, color="yellow")
    return fig


def fig19(d: dict, prefix: str = "") -> Figure:
    m = meta_of(d, "fig19")
    imgs = d["fig19/images"]
    groups = [(a + 1, b + 1) for a, b in m["groups"]]
    span = [f"{a}-{b}" if a != b else f"{a}" for a, b in groups]
    cols = ["A", "B"] + [f"A, B's layers {s}" for s in reversed(span)]
    rows = [f"A {a} / B {b}" for a, b in zip(m["seeds_a"], m["seeds_b"], strict=True)]
    text = (f"{prefix}{source_text(m)}, per-pixel noise off. Columns: source A, source B, then A's styles with "
            f"B's at the late, middle and early layers (of {m['num_ws']} modulated layers, 1-based; each RGB "
            "projection shares its layer's style), the paper's left-to-right order. The model was trained "
            "without mixing regularisation.")
    return montage_figure(imgs, TITLES["fig19_mixing"], text, cols, rows)


DRAW = {"fig8": fig8, "fig9": fig9, "fig10": fig10, "fig11": fig11, "fig15": fig15, "fig18": fig18,
        "fig19": fig19}


def figures_of(d: dict, prefix: str = "") -> dict[str, Figure]:
    """Every figure whose arrays are in `d`, by file name (Fig. 15: one per dataset, fig15_patches_<dataset>)."""
    out: dict[str, Figure] = {}
    for key, draw in DRAW.items():
        if f"{key}/meta" not in d:
            continue
        made = draw(d, prefix)
        if isinstance(made, list):
            for suffix, f in made:
                out[f"{SECTION[key]}_{suffix}"] = f
        else:
            out[SECTION[key]] = made
    return out
