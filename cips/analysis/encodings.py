"""Array-level analysis of positional encodings (Figs. 4-5): spectra and PCA of (H, W, C) encoding maps.

An encoding map holds one C-dimensional vector per pixel of the full grid: the Fourier-feature output
sin(B (x', y')) or the learned coordinate embeddings of a CIPS generator.
- `encoding_spectrum`: per-channel 2-D FFT magnitude (each channel's mean removed: the DC term would
  otherwise dominate), shifted, averaged over channels, log10. Show two of them with
  `shared_limits` for one colour scale (Fig. 4).
- `high_frequency_fraction`: the share of spectral power beyond a radius, a number for the claim that
  embeddings carry more high frequencies than Fourier features.
- `pca_rgb`: the first principal components of the per-pixel vectors as an RGB image with their
  explained-variance ratios (Fig. 5).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from cips.analysis.spectrum import ring_index


def _as_hwc(enc: np.ndarray | torch.Tensor, name: str = "encoding") -> np.ndarray:
    x = enc.detach().cpu().numpy() if isinstance(enc, torch.Tensor) else np.asarray(enc)
    if x.ndim != 3:
        raise ValueError(f"{name}: expected an (H, W, C) map, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x.astype(np.float64)


def power_spectrum(enc: np.ndarray | torch.Tensor, remove_mean: bool = True) -> np.ndarray:
    """(H, W, C) -> (H, W) channel-mean power |F|² of the shifted per-channel 2-D FFT."""
    x = _as_hwc(enc)
    if remove_mean:
        x = x - x.mean(axis=(0, 1), keepdims=True)
    f = np.fft.fftshift(np.fft.fft2(x, axes=(0, 1)), axes=(0, 1))
    return (np.abs(f) ** 2).mean(axis=2)


def encoding_spectrum(
    enc: np.ndarray | torch.Tensor, remove_mean: bool = True, log: bool = True, eps: float = 1e-12
) -> np.ndarray:
    """(H, W, C) -> (H, W) channel-mean magnitude spectrum (shifted, DC at (H//2, W//2)), log10 by default."""
    x = _as_hwc(enc)
    if remove_mean:
        x = x - x.mean(axis=(0, 1), keepdims=True)
    mag = np.abs(np.fft.fftshift(np.fft.fft2(x, axes=(0, 1)), axes=(0, 1))).mean(axis=2)
    return np.log10(mag + eps) if log else mag


def shared_limits(*spectra: np.ndarray, low: float = 1.0, high: float = 99.9) -> tuple[float, float]:
    """(vmin, vmax) covering several spectra (percentiles of all their values) for one colour scale."""
    values = np.concatenate([np.ravel(s) for s in spectra])
    values = values[np.isfinite(values)]
    return float(np.percentile(values, low)), float(np.percentile(values, high))


def high_frequency_fraction(enc: np.ndarray | torch.Tensor, cutoff: float = 0.5) -> float:
    """Share of the (mean-removed) spectral power at radius > cutoff * Nyquist (min(H, W) / 2)."""
    power = power_spectrum(enc)
    h, w = power.shape
    rings, _ = ring_index(h, w)
    total = power.sum()
    if total <= 0:
        return 0.0
    return float(power[rings.numpy() > cutoff * (min(h, w) / 2)].sum() / total)


def pca_rgb(
    enc: np.ndarray | torch.Tensor, components: int = 3, clip: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """First `components` principal components of the per-pixel vectors of an (H, W, C) map.

    Returns (image (H, W, components) in [0, 1], explained-variance ratio (components,), decreasing).
    Each component is scaled to [0, 1] between its `clip` and 100 - `clip` percentiles; the sign of each
    component is fixed so its largest loading is positive (the result is deterministic).
    """
    x = _as_hwc(enc)
    h, w, c = x.shape
    if components > min(h * w, c):
        raise ValueError(f"encoding: {components} components asked of an {h}x{w}x{c} map")
    flat = x.reshape(-1, c)
    flat = flat - flat.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(flat, full_matrices=False)
    var = s**2
    ratio = var[:components] / var.sum() if var.sum() > 0 else np.zeros(components)
    vt = vt[:components]
    signs = np.sign(vt[np.arange(components), np.abs(vt).argmax(axis=1)])
    signs[signs == 0] = 1
    scores = flat @ (vt * signs[:, None]).T
    lo = np.percentile(scores, clip, axis=0)
    hi = np.percentile(scores, 100 - clip, axis=0)
    img = np.clip((scores - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    return img.reshape(h, w, components), ratio


def generator_encodings(G: torch.nn.Module) -> dict[str, np.ndarray]:
    """The two positional encodings of a CIPS generator over its training grid, as (H, W, C) maps
    (only those the variant has)."""
    with torch.no_grad():
        enc = G.encodings()
    return {name: e[0].detach().reshape(G.size, G.size, -1).float().cpu().numpy()
            for name, e in enc.items() if e is not None}


def encodings_figure_data(base: torch.nn.Module, ne: torch.nn.Module | None = None, seed: int = 0,
                          truncation: float = 1.0) -> dict[str, np.ndarray]:
    """Arrays behind Figs. 3-6 from CIPS-base (and CIPS-NE for Fig. 3), all (H, W, ...) numpy:

    fig4/<enc>_spectrum and fig4/limits (one colour scale), fig4/<enc>_high_freq;
    fig5/<enc>_pca (RGB in [0, 1]) and fig5/<enc>_variance;
    fig6/normal, fig6/no_embeddings, fig6/no_fourier (images in [-1, 1], noise off, one latent);
    fig3/base_mean_style and fig3/ne_mean_style (the image of the mean style w).
    """
    out: dict[str, np.ndarray] = {}
    maps = generator_encodings(base)
    spectra = {name: encoding_spectrum(m) for name, m in maps.items()}
    for name, m in maps.items():
        out[f"fig4/{name}_spectrum"] = spectra[name]
        out[f"fig4/{name}_high_freq"] = np.array(high_frequency_fraction(m))
        rgb, variance = pca_rgb(m)
        out[f"fig5/{name}_pca"] = rgb
        out[f"fig5/{name}_variance"] = variance
    out["fig4/limits"] = np.array(shared_limits(*spectra.values()))

    def image(G: torch.nn.Module, **kw) -> np.ndarray:
        with torch.no_grad():
            return G(**kw)[0].detach().permute(1, 2, 0).float().cpu().numpy()

    z = torch.randn(1, base.style_dim, generator=torch.Generator().manual_seed(seed)).to(base.grid.device)
    common = dict(z=z, noise_mode="zero", truncation=truncation)
    out["fig6/normal"] = image(base, **common)
    out["fig6/no_embeddings"] = image(base, zero_embeddings=True, **common)
    out["fig6/no_fourier"] = image(base, zero_fourier=True, **common)
    for label, G in (("base", base), ("ne", ne)):
        if G is not None:
            out[f"fig3/{label}_mean_style"] = image(G, ws=G.mean_w().unsqueeze(0), noise_mode="zero")
    return out


def initial_generator(run) -> torch.nn.Module:
    """Run `run`'s generator as training initialises it (`cips.training.loop.Trainer`: the seed, then the
    generator is the first thing built), before any step."""
    from cips.models import build_generator

    torch.manual_seed(run.train.seed)
    return build_generator(run.model).eval()


def encodings_from_params(params_path: str | Path = "params.yaml", root: str | Path = ".") -> Path:
    """The work of stage encodings: Figs. 3-6's data from the runs analysis.encodings names, written to
    reports/data/encodings.npz under project root `root`."""
    from cips.analysis.budgets import other_budgets, prefix
    from cips.config import ConfigError
    from cips.files import save_npz_atomic
    from cips.layout import Layout
    from cips.models.checkpoint import load_generator
    from cips.scale import load_params

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    spec = params.analysis.encodings
    if spec is None:  # not set, or it reads a dataset with enabled: false
        from cips.files import save_skipped

        return save_skipped(layout.report_data("encodings.npz"), "analysis.encodings: none in params (or its "
                            "dataset has enabled: false)")
    generators = {}
    for role in ("base", "ne"):
        run = getattr(spec, role)
        if not run:
            continue
        member = params.members_of(run)[0]  # the first seed's model draws the figures
        checkpoint = layout.generator(member)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"{checkpoint}: no generator for analysis.encodings.{role} "
                                    f"(run `dvc repro train@{member}`)")
        generators[role] = load_generator(checkpoint)
        if not hasattr(generators[role], "encodings"):
            raise ConfigError(f"{params_path}: analysis.encodings.{role}: run {run} is not a CIPS generator")
    data = encodings_figure_data(generators["base"], generators.get("ne"), seed=spec.seed)
    # every seed of CIPS-base: the high-frequency shares behind the Fig. 4 claim's interval, after training and,
    # as its control, at initialisation (the same seed's weights before the first step); the same for its twins
    # at the scale's other budgets, under budget/<images>/ (cips.analysis.budgets)
    runs = {"": spec.base, **{prefix(b): r["base"] for b, r in other_budgets(params, {"base": spec.base}).items()}}
    for key, run in runs.items():
        shares: dict[str, list[float]] = {}
        for member in params.members_of(run):
            if not layout.generator(member).is_file():
                continue  # a seed still training: the claim's n says how many there were
            trained = generator_encodings(load_generator(layout.generator(member)))
            initial = generator_encodings(initial_generator(params.run(member)))
            for when, maps in (("fig4", trained), ("fig4_init", initial)):
                for name, m in maps.items():
                    shares.setdefault(f"{key}seeds/{when}/{name}_high_freq", []).append(high_frequency_fraction(m))
        if key and shares:
            data[f"{key}runs"] = np.array(json.dumps({"base": run}))
        data.update({k: np.array(v) for k, v in shares.items()})
    return save_npz_atomic(layout.report_data("encodings.npz"), data)
