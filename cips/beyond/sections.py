"""The arrays of every per-pixel figure, as flat {"<figure>/<name>": array} dicts (one .npz for the report).

Each `figN` function computes one figure's data from a generator and returns its arrays plus
"<figure>/meta", a JSON string (run, step, seeds, settings, measured numbers, seconds it took). The
`beyond` stage (`compute`) runs them on the runs `cips.beyond.subjects` picks; the `cips` commands run one
of them on any checkpoint. Images are stored as uint8 (what a PNG holds); measurements are computed in float
before quantisation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cips.beyond import foveated as fov
from cips.beyond import interpolation, mixing, neighbours, panorama, superres
from cips.beyond.render import CHUNK, hwc_uint8, is_cips, latents, render, styles
from cips.beyond.subjects import Subjects, choose
from cips.images import to_uint8
from cips.layout import Layout

log = logging.getLogger("cips.beyond")

FIGURES = ("fig8", "fig9", "fig10", "fig11", "fig15", "fig18", "fig19")


@dataclass
class Source:
    """A generator and where it came from (for captions and MLflow)."""

    g: nn.Module
    label: str  # run name, or the checkpoint path
    step: int | None = None
    mlflow_run_id: str | None = None
    truncation: float = 1.0

    def meta(self) -> dict:
        return {"run": self.label, "step": self.step, "truncation": self.truncation, "size": int(self.g.size)}


def load_source(path: str | Path, label: str | None = None, truncation: float = 1.0,
                device: str | torch.device = "cpu") -> Source:
    """The EMA generator of a checkpoint with its training step and MLflow run id (None where absent)."""
    from cips.models.checkpoint import load_generator, torch_load_data

    g = load_generator(path, map_location=device)
    ckpt = torch_load_data(path, mmap=True)  # memory-mapped: only the small entries are read again
    return Source(g, label or str(path), ckpt.get("step"), ckpt.get("mlflow_run_id"), truncation)


def _u8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8 with the PNG convention of cips.images.to_uint8."""
    return np.clip(np.floor(x * 255 + 0.5), 0, 255).astype(np.uint8)


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _pack(fig: str, arrays: dict[str, np.ndarray], meta: dict, t0: float) -> dict[str, np.ndarray]:
    meta["seconds"] = round(time.perf_counter() - t0, 3)
    out = {f"{fig}/{k}": v for k, v in arrays.items()}
    out[f"{fig}/meta"] = np.array(json.dumps(meta))
    return out


def fig8(src: Source, seed: int = 0, fractions: Sequence[float] = fov.PAPER_FRACTIONS,
         spread: float = fov.PAPER_SPREAD, center: tuple[float, float] = (0.0, 0.0), repeats: int = 3,
         chunk: int | None = CHUNK) -> dict[str, np.ndarray]:
    """Foveated synthesis: images, masks, PSNR, masked L1 and the time of each fraction."""
    t0 = time.perf_counter()
    ws = styles(src.g, latents([seed], src.g.style_dim), src.truncation)
    r = fov.foveated(src.g, ws, fractions, center, spread, seed, repeats, chunk)
    meta = {**src.meta(), "seed": seed, "spread": spread, "center": list(center), "repeats": repeats,
            "fractions": r.fractions.tolist(), "render_s": r.render_s.round(6).tolist(),
            "fill_s": r.fill_s.round(6).tolist(), "full_s": round(r.full_s, 6),
            "psnr": [_finite(v) for v in r.psnr], "masked_l1": [_finite(v) for v in r.masked_l1],
            "fovea_psnr": [_finite(v) for v in r.fovea_psnr]}
    return _pack("fig8", {"images": _u8(r.images), "masks": r.masks, "full": _u8(r.full)}, meta, t0)


def fig9(src: Source, seed: int = 0, factors: Sequence[int] = (1, 2, 4), chunk: int | None = CHUNK
         ) -> dict[str, np.ndarray]:
    """Super-resolution: each factor's image, Lanczos of 1x, spectra and profiles of both at the largest."""
    t0 = time.perf_counter()
    ws = styles(src.g, latents([seed], src.g.style_dim), src.truncation)
    r = superres.super_resolution(src.g, ws, factors, chunk)
    arrays = {f"x{f}": _u8(img) for f, img in zip(r.factors, r.images, strict=True)}
    arrays["lanczos"] = _u8(r.lanczos)
    for name in ("cips", "lanczos"):
        arrays[f"spectrum_{name}"] = r.spectra[name].astype(np.float32)
        arrays[f"profile_{name}"] = r.profiles[name].astype(np.float32)
    meta = {**src.meta(), "seed": seed, "factors": r.factors.tolist(),
            "beyond_nyquist": {k: round(v, 6) for k, v in r.beyond_nyquist.items()}}
    return _pack("fig9", arrays, meta, t0)


def fig10(src: Source, seeds: Sequence[int] = (0, 1, 2), steps: int = 8, mode: interpolation.Mode = "w",
          chunk: int | None = CHUNK) -> dict[str, np.ndarray]:
    """Latent interpolation: (pairs, steps, H, W, 3) frames and the change between consecutive frames."""
    t0 = time.perf_counter()
    frames = interpolation.interpolate(src.g, seeds, steps, mode, src.truncation, chunk)
    changes = interpolation.step_changes(frames)
    p, s = frames.shape[:2]
    images = hwc_uint8(frames.flatten(0, 1)).reshape(p, s, *frames.shape[-2:], 3)
    meta = {**src.meta(), "seeds": list(map(int, seeds)), "steps": steps, "mode": mode,
            "largest_over_mean_step": [round(float(c.max() / max(c.mean(), 1e-12)), 3) for c in changes]}
    return _pack("fig10", {"images": images, "step_changes": changes.astype(np.float32)}, meta, t0)


def contrasting_seed(src: Source, a: int, candidates: Sequence[int] = range(1, 8)) -> int:
    """The candidate seed whose image (training grid, noise off) differs most from seed `a`'s: a blend of two
    near-identical images would show nothing (a demo-scale model's samples are often alike)."""
    ws = styles(src.g, latents([a, *candidates], src.g.style_dim), src.truncation)
    images = render(src.g, ws, coords=None)
    diffs = (images[1:] - images[:1]).abs().mean(dim=(1, 2, 3))
    return int(list(candidates)[int(diffs.argmax())])


def fig11(src: Source, seeds: tuple[int, int] | None = None, widths: float = 3.0, chunk: int | None = CHUNK,
          note: str = "") -> dict[str, np.ndarray]:
    """Panoramas of two latents, their per-pixel blend, and the wrap-around seam (cylindrical generators).

    A cartesian generator is rendered on a grid `widths` images wide (an extrapolation; no seam). Without
    `seeds`, A is seed 0 and B the most different of seeds 1-7 (`contrasting_seed`)."""
    t0 = time.perf_counter()
    g = src.g
    rule = "" if seeds else "B is the most different of seeds 1-7 from A"
    seeds = seeds or (0, contrasting_seed(src, 0))
    cylindrical = is_cips(g) and g.coord_system == "cylindrical"
    grid = panorama.panorama_grid(g) if cylindrical else panorama.wide_grid(g.size, widths)
    ws = styles(g, latents(list(seeds), g.style_dim), src.truncation)
    pans = render(g, ws, grid, chunk)
    # on a cylinder the blend runs around it; on a wide cartesian grid across the training extent, where the
    # content is (B beyond it)
    x = panorama.grid_x_unit(grid) if cylindrical else grid[0, 0, 0].clamp(-1, 1)
    blend = panorama.blended(g, ws[:1], ws[1:2], grid, panorama.blend_weight(x), chunk=chunk)
    unit = ((torch.cat([pans, blend]).double().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    meta = {**src.meta(), "seeds": list(map(int, seeds)), "seed_rule": rule,
            "kind": "cylinder" if cylindrical else "wide", "note": note,
            "extent_x": [float(grid[0, 0, 0, 0]), float(grid[0, 0, 0, -1])]}
    if cylindrical:
        meta["panorama_width"] = int(g.panorama_width)
        seams = [panorama.seam(u) for u in unit]
        meta["seams"] = [vars(sm) | {"ratio": _finite(sm.ratio)} for sm in seams]
    return _pack("fig11", {"panoramas": _u8(unit[:2]), "blend": _u8(unit[2])}, meta, t0)


def fig18(src: Source, train: neighbours.TrainingFeatures, net, seeds: Sequence[int] = range(6), k: int = 5,
          dataset: str = "") -> dict[str, np.ndarray]:
    """Nearest training images (Inception features) of generated samples."""
    t0 = time.perf_counter()
    imgs = render(src.g, styles(src.g, latents(list(seeds), src.g.style_dim), src.truncation), None)
    r = neighbours.neighbours(to_uint8(imgs), net, train, k)
    meta = {**src.meta(), "seeds": list(map(int, seeds)), "k": int(r.distances.shape[1]), "dataset": dataset,
            "source": r.source, "typical_gap": round(r.gap, 4),
            "nearest": r.distances[:, 0].round(4).tolist()}
    return _pack("fig18", {"samples": r.samples, "images": r.images, "distances": r.distances.astype(np.float32),
                           "lmdb_indices": r.lmdb_indices}, meta, t0)


def fig19(src: Source, seeds_a: Sequence[int] = (0, 1, 2), seeds_b: Sequence[int] = (3, 4, 5),
          chunk: int | None = CHUNK) -> dict[str, np.ndarray]:
    """Layer-wise style mixing: rows of A, B, A with B's late / middle / early layers."""
    t0 = time.perf_counter()
    images, groups = mixing.style_mixing(src.g, seeds_a, seeds_b, src.truncation, chunk)
    r, c = images.shape[:2]
    meta = {**src.meta(), "seeds_a": list(map(int, seeds_a)), "seeds_b": list(map(int, seeds_b)),
            "num_ws": int(src.g.num_ws), "groups": [list(gr) for gr in groups]}
    return _pack("fig19", {"images": hwc_uint8(images.flatten(0, 1)).reshape(r, c, *images.shape[-2:], 3)},
                 meta, t0)


def fig15(rows: dict[str, list[tuple[str, Source]]], seeds: Sequence[int] = range(8)) -> dict[str, np.ndarray]:
    """Patch-trained beside full-image samples: per dataset, one row per run (same seeds, noise off)."""
    t0 = time.perf_counter()
    arrays, blocks = {}, []
    for i, (dataset, runs) in enumerate(rows.items()):
        grid = []
        for _, src in runs:
            grid.append(hwc_uint8(render(src.g, styles(src.g, latents(list(seeds), src.g.style_dim),
                                                       src.truncation), None)))
        arrays[f"block{i}"] = np.stack(grid)
        blocks.append({"dataset": dataset, "rows": [{"cell": cell, **src.meta()} for cell, src in runs]})
    return _pack("fig15", arrays, {"seeds": list(map(int, seeds)), "blocks": blocks}, t0)


# --------------------------------------------------------------------------------------------
# the stage: every figure from the runs of one params.yaml


def _run_source(params, layout: Layout, run: str, device: torch.device) -> Source | None:
    path = layout.generator(run)
    if not path.is_file():
        log.info("%s: no generator; its figures are skipped (run `dvc repro train@%s`)", path, run)
        return None
    return load_source(path, run, params.run(run).eval.truncation, device)


def compute(params, root: str | Path = ".", device: str = "auto", figures: Sequence[str] = FIGURES
            ) -> tuple[dict[str, np.ndarray], dict[str, list[Source]]]:
    """Every figure's arrays for the runs `subjects.choose` picks, plus the sources of each figure (for
    MLflow: a figure is logged to every run it shows).

    Missing runs skip their figures; what was skipped and why is in "meta" (a JSON string)."""
    from cips.runtime import resolve_device

    layout = Layout(root, params.scale)
    dev = resolve_device(device)
    subjects: Subjects = choose(params)
    notes: dict[str, str] = {}
    out: dict[str, np.ndarray] = {}
    used: dict[str, list[Source]] = {}
    cache: dict[str, Source | None] = {}

    def source(run: str | None) -> Source | None:
        if run is None:
            return None
        if run not in cache:
            cache[run] = _run_source(params, layout, run, dev)
        return cache[run]

    main = source(subjects.main)
    if main is None:
        for fig in ("fig8", "fig9", "fig10", "fig18", "fig19"):
            notes[fig] = ("no CIPS run of Table 1 on dataset " f"{subjects.dataset} at this scale"
                          if subjects.main is None else f"run {subjects.main} has no generator")
    else:
        for fig, fn in (("fig8", fig8), ("fig9", fig9), ("fig10", fig10), ("fig19", fig19)):
            if fig in figures:
                out.update(fn(main))
                used[fig] = [main]
        if "fig18" in figures:
            bundle = layout.reference_bundle(subjects.dataset)
            try:
                if not bundle.is_file() and layout.lmdb(subjects.dataset, main.g.size).is_dir():
                    from cips.metrics.evaluate import build_references  # a machine-local cache (dvc.yaml)

                    build_references(params, subjects.dataset, root, progress=False)
                train = neighbours.reference_features(bundle, layout.lmdb(subjects.dataset, main.g.size),
                                                      main.g.size)
            except (FileNotFoundError, ValueError) as err:
                notes["fig18"] = str(err)
            else:
                from cips.metrics.features import load_inception

                out.update(fig18(main, train, load_inception(dev), dataset=subjects.dataset))
                used["fig18"] = [main]
    if "fig11" in figures:
        pano = source(subjects.panorama)
        if pano is not None:
            out.update(fig11(pano))
            used["fig11"] = [pano]
        elif main is not None:
            why = "no cylindrical run at this scale" if subjects.panorama is None else \
                f"run {subjects.panorama} has no generator"
            out.update(fig11(main, note=why))
            used["fig11"] = [main]
    if "fig15" in figures:
        rows = {}
        for dataset, runs in subjects.patches.items():
            loaded = [(cell, source(run)) for cell, run in runs]
            loaded = [(cell, s) for cell, s in loaded if s is not None]
            if len(loaded) >= 2:
                rows[dataset] = loaded
        if rows:
            out.update(fig15(rows))
            used["fig15"] = list({id(s): s for runs in rows.values() for _, s in runs}.values())
        else:
            notes["fig15"] = "no dataset has a full-image and a patch-trained run with checkpoints at this scale"
    meta = {"scale": params.scale, "subjects": vars(subjects), "notes": notes}
    out["meta"] = np.array(json.dumps(meta))
    return out, used
