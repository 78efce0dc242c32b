"""Spectral analysis of image sets (Fig. 7): mean 2-D log-magnitude spectrum and its azimuthal profile.

Per image: grayscale (ITU-R BT.601 luma), 2-D FFT, shifted so the DC term sits at (H//2, W//2),
magnitude |F| + eps, log. The 2-D map is the mean of these over the images. The profile is the mean of
the log magnitude over integer-radius rings (ring k holds the frequencies whose distance r from DC has
floor(r) = k), per image, normalised per image, then averaged (its std across images is kept too).

Every choice is a named field of SpectrumParams; the defaults follow Durall et al. 2020 ("Watch your
up-convolution", their released code): 20 ln(|F| + 1e-8), DC kept, profile divided by its DC bin; the
profile stops at the Nyquist radius (Durall et al. go on to the corner and resample the profile to N
points, which we do not). `caption(params)` writes the choices out for a figure.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from cips.files import save_npz_atomic

log = logging.getLogger(__name__)
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as OpenCV's and PIL's RGB -> L


@dataclass(frozen=True)
class SpectrumParams:
    log_base: Literal["e", "10", "2", "none"] = "e"  # none: linear magnitude
    log_scale: float = 20.0  # Durall et al.: 20 * ln|F|
    eps: float = 1e-8  # added to |F| before the log
    dc: Literal["keep", "subtract-mean", "exclude"] = "keep"  # subtract-mean: FFT of the zero-mean image
    radius: Literal["nyquist", "corner"] = "nyquist"  # profile out to min(H, W) / 2, or to the corner
    normalise: Literal["dc", "none", "max"] = "dc"  # per-image profile divided by its DC bin / its maximum

    def __post_init__(self) -> None:
        if self.normalise == "dc" and self.dc != "keep":
            raise ValueError(f"spectrum normalise='dc' divides by the DC bin, which dc={self.dc!r} removes")
        if self.log_base not in ("e", "10", "2", "none"):
            raise ValueError(f"spectrum log_base: {self.log_base!r} is not one of e, 10, 2, none")

    @classmethod
    def from_eval(cls, cfg) -> SpectrumParams:
        """From an EvalConfig's spectrum_* fields."""
        return cls(
            log_base=cfg.spectrum_log_base,
            log_scale=cfg.spectrum_log_scale,
            dc=cfg.spectrum_dc,
            radius=cfg.spectrum_radius,
            normalise=cfg.spectrum_normalise,
        )


def caption(p: SpectrumParams, n: int | None = None) -> str:
    """The spectrum choices in words, for a figure caption."""
    if p.log_base == "none":
        mag = "|F|"
    else:
        log = {"e": "ln", "10": "log10", "2": "log2"}[p.log_base]
        mag = f"{p.log_scale:g} {log}(|F| + {p.eps:g})"
    dc = {
        "keep": "DC term kept",
        "subtract-mean": "image mean subtracted before the FFT",
        "exclude": "DC bin excluded",
    }[p.dc]
    rad = "out to the Nyquist radius" if p.radius == "nyquist" else "out to the corner"
    norm = {
        "dc": "each image's profile divided by its DC bin",
        "none": "no normalisation",
        "max": "each image's profile divided by its maximum",
    }[p.normalise]
    count = f"mean over {n} images; " if n else ""
    return (
        f"Grayscale (BT.601) 2-D FFT, shifted; {mag}; {dc}; azimuthal mean over integer-radius rings "
        f"{rad}; {norm}; {count}defaults after Durall et al. 2020."
    )


def grayscale(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(B, 3, H, W) uint8 or float RGB -> (B, H, W) float64 luma in the images' own range."""
    x = torch.as_tensor(images)
    if x.dim() == 3:  # already grayscale (B, H, W)
        return x.double()
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (B, 3, H, W) or (B, H, W), got {tuple(x.shape)}")
    x = x.double()
    if x.shape[1] == 1:
        return x[:, 0]
    w = torch.tensor(LUMA, dtype=torch.float64).view(1, 3, 1, 1)
    return (x * w).sum(1)


def log_magnitude(gray: torch.Tensor, p: SpectrumParams = SpectrumParams()) -> torch.Tensor:
    """(B, H, W) -> (B, H, W) shifted (log) magnitude spectra."""
    if p.dc == "subtract-mean":
        gray = gray - gray.mean(dim=(-2, -1), keepdim=True)
    mag = torch.fft.fftshift(torch.fft.fft2(gray), dim=(-2, -1)).abs() + p.eps
    if p.log_base == "none":
        return mag
    log = {"e": torch.log, "10": torch.log10, "2": torch.log2}[p.log_base]
    return p.log_scale * log(mag)


def ring_index(height: int, width: int) -> tuple[torch.Tensor, int]:
    """(H, W) integer ring of each shifted frequency (floor of its distance from DC) and the ring count."""
    y = torch.arange(height, dtype=torch.float64) - height // 2
    x = torch.arange(width, dtype=torch.float64) - width // 2
    r = torch.sqrt(y[:, None] ** 2 + x[None, :] ** 2)
    rings = torch.floor(r).long()
    return rings, int(rings.max()) + 1


def max_ring(height: int, width: int, radius: str) -> int:
    """Last ring of the profile: the Nyquist radius min(H, W) // 2, or the corner."""
    if radius == "nyquist":
        return min(height, width) // 2
    return int(math.floor(math.hypot(height // 2, width // 2)))


def azimuthal_profile(spectra: torch.Tensor, p: SpectrumParams = SpectrumParams()) -> torch.Tensor:
    """(B, H, W) shifted spectra -> (B, R) ring means (R = max_ring + 1), normalised as `p` says."""
    b, h, w = spectra.shape
    rings, count = ring_index(h, w)
    flat = rings.flatten()
    sums = torch.zeros(b, count, dtype=spectra.dtype).index_add_(1, flat, spectra.reshape(b, -1))
    sizes = torch.bincount(flat, minlength=count).to(spectra.dtype)
    prof = (sums / sizes)[:, : max_ring(h, w, p.radius) + 1]
    if p.dc == "exclude":
        prof[:, 0] = float("nan")
    if p.normalise == "dc":
        prof = prof / prof[:, :1]
    elif p.normalise == "max":
        prof = prof / torch.nan_to_num(prof, nan=-math.inf).amax(dim=1, keepdim=True)
    return prof


@dataclass
class SpectrumResult:
    mean_spectrum: np.ndarray  # (H, W) mean shifted log-magnitude spectrum
    profile: np.ndarray  # (R,) mean azimuthal profile
    profile_std: np.ndarray  # (R,) std across images
    radii: np.ndarray  # (R,) ring index (cycles per image)
    n: int
    params: SpectrumParams

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {
            f"{prefix}mean_spectrum": self.mean_spectrum,
            f"{prefix}profile": self.profile,
            f"{prefix}profile_std": self.profile_std,
            f"{prefix}radii": self.radii,
            f"{prefix}n": np.array(self.n),
        }


class SpectrumAccumulator:
    """Streams batches of images into the running sums of the mean spectrum and profile."""

    def __init__(self, params: SpectrumParams = SpectrumParams()) -> None:
        self.params = params
        self.n = 0
        self.sum_spec: torch.Tensor | None = None
        self.sum_prof: torch.Tensor | None = None
        self.sum_prof2: torch.Tensor | None = None
        self.shape: tuple[int, int] | None = None

    def update(self, images: torch.Tensor | np.ndarray) -> None:
        gray = grayscale(images)
        if self.shape is None:
            self.shape = tuple(gray.shape[-2:])
        elif tuple(gray.shape[-2:]) != self.shape:
            raise ValueError(f"image size changed from {self.shape} to {tuple(gray.shape[-2:])}")
        spec = log_magnitude(gray, self.params)
        prof = azimuthal_profile(spec, self.params)
        if self.sum_spec is None:
            self.sum_spec, self.sum_prof, self.sum_prof2 = spec.sum(0), prof.sum(0), (prof**2).sum(0)
        else:
            self.sum_spec += spec.sum(0)
            self.sum_prof += prof.sum(0)
            self.sum_prof2 += (prof**2).sum(0)
        self.n += gray.shape[0]

    def result(self) -> SpectrumResult:
        if self.n == 0:
            raise ValueError("no images were given to the spectrum")
        mean = self.sum_prof / self.n
        var = (self.sum_prof2 / self.n - mean**2).clamp(min=0)
        return SpectrumResult(
            (self.sum_spec / self.n).numpy(),
            mean.numpy(),
            var.sqrt().numpy(),
            np.arange(len(mean)),
            self.n,
            self.params,
        )


def spectrum_of(
    batches: Iterable[torch.Tensor],
    params: SpectrumParams = SpectrumParams(),
    total: int | None = None,
    desc: str = "spectrum",
    progress: bool = True,
) -> SpectrumResult:
    """Spectrum of a stream of image batches ((B, 3, H, W) uint8 or float)."""
    acc = SpectrumAccumulator(params)
    with tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for images in batches:
            acc.update(images)
            bar.update(len(images))
    return acc.result()


def save_spectra(path: str | Path, results: dict[str, SpectrumResult],
                 seeds: dict[str, list[SpectrumResult]] | None = None,
                 budgets: dict[int, tuple[dict[str, str], dict[str, list[SpectrumResult]]]] | None = None) -> Path:
    """Several named spectra (e.g. real, CIPS-base, CIPS-NE, StyleGAN2) in one .npz for the report:
    `<name>/mean_spectrum`, `<name>/profile`, `<name>/profile_std`, `<name>/radii`, `<name>/n`, plus
    `names`, `params` (JSON) and `caption`; with `seeds` (name -> one result per seed of its run, the first
    being `results[name]`) also `seeds/<name>/profiles`, one profile per seed (for the claims' intervals); with
    `budgets` (images -> (label -> run, label -> per-seed results) of the runs' budget twins) the same under
    `budget/<images>/`, and the runs as JSON in `budget/<images>/runs` (cips.analysis.budgets)."""
    from cips.analysis.budgets import prefix

    if not results:
        raise ValueError("no spectra to save")
    params = {asdict(r.params).__repr__() for r in results.values()}
    if len(params) != 1:
        raise ValueError("spectra computed with different parameters cannot share one file")
    first = next(iter(results.values()))
    arrays = {
        "names": np.array(list(results)),
        "params": np.array(json.dumps(asdict(first.params))),
        "caption": np.array(
            caption(first.params, first.n if len({r.n for r in results.values()}) == 1 else None)
        ),
    }
    for name, r in results.items():
        arrays.update(r.arrays(prefix=f"{name}/"))
    for key, (runs, per_label) in [("", (None, seeds or {})),
                                   *((prefix(b), v) for b, v in (budgets or {}).items())]:
        if runs is not None:
            arrays[f"{key}runs"] = np.array(json.dumps(runs))
        for name, per_seed in per_label.items():
            arrays[f"{key}seeds/{name}/profiles"] = np.stack([r.profile for r in per_seed])
    path = Path(path)
    save_npz_atomic(path, arrays)
    return path


def load_spectra(path: str | Path) -> dict[str, SpectrumResult]:
    with np.load(path) as z:
        params = SpectrumParams(**json.loads(str(z["params"])))
        return {
            str(name): SpectrumResult(
                z[f"{name}/mean_spectrum"],
                z[f"{name}/profile"],
                z[f"{name}/profile_std"],
                z[f"{name}/radii"],
                int(z[f"{name}/n"]),
                params,
            )
            for name in z["names"]
        }


def spectra_from_params(params_path: str | Path = "params.yaml", root: str | Path = ".") -> Path:
    """The work of stage spectra: Fig. 7's spectra of the real images and of the runs analysis.spectra
    names, written to reports/data/spectra.npz under project root `root`."""
    from cips.analysis.budgets import other_budgets
    from cips.layout import Layout
    from cips.metrics.features import iter_dataset, open_images
    from cips.models.checkpoint import load_generator
    from cips.runtime import resolve_device
    from cips.sampling import iter_generated
    from cips.scale import load_params

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    spec = params.analysis.spectra
    if spec is None:  # not set, or it reads a dataset with enabled: false
        from cips.files import save_skipped

        return save_skipped(layout.report_data("spectra.npz"), "analysis.spectra: none in params (or its dataset "
                            "has enabled: false)")
    cfg = params.base_eval
    n = spec.n or cfg.spectra_n
    p = SpectrumParams.from_eval(cfg)
    device = resolve_device(cfg.device)
    size: list[int] = []  # every generator's, which must agree with the others'

    def per_seed(label: str, run: str) -> list[SpectrumResult]:
        # every trained seed feeds the claim (seeds still training are left out, so the claim's n says how
        # many there were); the figure budget's first one draws the figure
        members = [m for m in params.members_of(run) if layout.generator(m).is_file()]
        if not members:  # the figure and the claim show what exists; the claim says what it lacks
            log.warning("%s: no generator for %s yet (run `dvc repro train@%s`); left out", layout.generator(
                params.members_of(run)[0]), label, params.members_of(run)[0])
        out = []
        for member in members:
            G = load_generator(layout.generator(member)).to(device)
            if size and G.size != size[0]:
                raise ValueError(f"analysis.spectra: {run} makes {G.size}px images, the others {size[0]}px")
            size.append(G.size)
            out.append(spectrum_of(iter_generated(G, n, cfg.batch, cfg.seed, cfg.truncation, device), p,
                                   total=n, desc=member))
        return out

    seeds = {label: r for label, run in spec.runs().items() if (r := per_seed(label, run))}
    results = {label: r[0] for label, r in seeds.items()}
    if not results:
        raise FileNotFoundError(f"{layout.runs}: no generator of any run analysis.spectra names (train them first)")
    budgets = {}
    for budget, runs in other_budgets(params, spec.runs()).items():
        if per_label := {label: r for label, run in runs.items() if (r := per_seed(label, run))}:
            budgets[budget] = ({label: runs[label] for label in per_label}, per_label)
    real = open_images(layout.lmdb(spec.dataset, size[0]))
    count = min(n, len(real))
    results = {"real": spectrum_of(iter_dataset(real, range(count), cfg.batch), p, total=count, desc="real"),
               **results}
    return save_spectra(layout.report_data("spectra.npz"), results, seeds, budgets)
