"""One evaluation: stream samples of a generator, extract features once, score FID, KID and P&R.

The result is the content of `runs/<run>/metrics.json` (schema in METRICS_SCHEMA below) and a sample
grid. Top-level numbers ("fid", "kid", "precision", ...) are what `dvc metrics show` and tables read;
every one has its protocol under "protocol".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.utils import make_grid

from cips.config import EvalConfig
from cips.files import write_bytes_atomic, write_json_atomic, write_png  # noqa: F401 (re-exported)
from cips.layout import Layout
from cips.metrics import registry
from cips.metrics.features import (
    FeatureNetwork,
    extract,
    load_inception,
    load_vgg16,
    prc_network_choice,
)
from cips.metrics.reference import Reference, get_reference, save_bundle, save_identity
from cips.models.checkpoint import torch_load_data
from cips.runtime import resolve_device
from cips.sampling import generation_seeds, iter_generated

METRICS_FORMAT = "cips-repro/metrics/1"
METRICS_SCHEMA = """\
{
  "format": "cips-repro/metrics/1",
  "run": str, "dataset": str, "checkpoint": {"path": str, "step": int | null},
  "fid": float, "kid": float, "kid_std": float, "precision": float, "recall": float,
  "floor": {"fid", "kid", "kid_std", "precision", "recall"},  # real vs real at the same N (eval.real_floor)
  "protocol": {"fid": {...}, "kid": {...}, "prc": {...}},     # quality.make_protocol dicts
  "reference": {"key": str, "n_real": int, "n_floor": int, "file": str | null},
  "timing": {"seconds": float, "generated_per_s": float, "device": str}
}"""


@dataclass
class EvalResult:
    metrics: dict  # the content of metrics.json
    grid: np.ndarray  # (H', W', 3) uint8 sample grid


def floor_count(cfg: EvalConfig) -> int:
    return cfg.n_generated if cfg.real_floor else 0


def load_networks(cfg: EvalConfig, device: torch.device) -> tuple[FeatureNetwork, FeatureNetwork]:
    """(Inception for FID/KID, network for precision/recall) as the config asks."""
    inc = load_inception(device, exact=cfg.feature_path == "exact")
    prc = load_vgg16(device) if prc_network_choice(cfg.prc_features) == "vgg16" else inc
    return inc, prc


def networks_list(inc: FeatureNetwork, prc: FeatureNetwork) -> list[FeatureNetwork]:
    return [inc] if prc is inc else [inc, prc]


# --------------------------------------------------------------------------------------------
# pieces


def sample_grid(images: torch.Tensor) -> np.ndarray:
    """uint8 (B, 3, H, W) -> a near-square (H', W', 3) uint8 grid."""
    nrow = max(1, math.ceil(math.sqrt(images.shape[0])))
    return make_grid(images, nrow=nrow, padding=1, pad_value=255).permute(1, 2, 0).numpy()


def score(
    generated: dict[str, np.ndarray],
    ref: Reference,
    cfg: EvalConfig,
    inc: FeatureNetwork,
    prc_net: FeatureNetwork,
) -> dict[str, float]:
    """Every registered metric (FID, KID, precision, recall) of generated features against a reference."""
    return registry.compute(generated, ref.features, cfg, {"inception": inc.name, "prc": prc_net.name},
                            real_stats=ref.fid_stats)


def protocols(
    cfg: EvalConfig,
    *,
    dataset: str,
    resolution: int,
    n_generated: int,
    ref: Reference,
    inc: FeatureNetwork,
    prc_net: FeatureNetwork,
    seeds: dict,
    generated: str,
) -> dict[str, dict]:
    note = (
        ""
        if prc_net.name == "vgg16"
        else "VGG16 weights not present: precision/recall on Inception pool features (the paper uses VGG16)"
    )
    return registry.protocols(
        cfg, {"inception": inc.protocol(), "prc": prc_net.protocol()}, n_generated, ref.n_real,
        notes={"prc": note}, dataset=dataset, resolution=resolution, truncation=cfg.truncation, seeds=seeds,
        generated=generated, real=ref.settings["selection"],
    )


# --------------------------------------------------------------------------------------------
# the evaluation


def evaluate_generator(
    G: nn.Module,
    *,
    dataset: str,
    cfg: EvalConfig,
    lmdb: str | Path,
    reference_cache: str | Path | None = None,
    bundles: list[str | Path] = (),
    run: str = "",
    checkpoint: str = "",
    step: int | None = None,
    png_dir: str | Path | None = None,
    networks: tuple[FeatureNetwork, FeatureNetwork] | None = None,
    progress: bool = True,
) -> EvalResult:
    """Evaluate generator G (EMA, eval mode) on `dataset` (real images in `lmdb`) with protocol `cfg`."""
    device = resolve_device(cfg.device)
    inc, prc_net = networks or load_networks(cfg, device)
    nets = networks_list(inc, prc_net)
    ref, ref_file = get_reference(
        dataset,
        lmdb,
        nets,
        n_real=cfg.n_real,
        n_floor=floor_count(cfg),
        seed=cfg.seed,
        cache=reference_cache,
        batch=cfg.batch,
        bundles=bundles,
        progress=progress,
        selection=cfg.real_selection,
    )
    if ref.settings["resolution"] != G.size:
        raise ValueError(
            f"{lmdb}: real images are {ref.settings['resolution']}px, the generator makes {G.size}px"
        )

    grid_images: list[torch.Tensor] = []
    saved = [0]

    def tap(images: torch.Tensor) -> None:
        have = sum(len(t) for t in grid_images)
        if have < cfg.grid:
            grid_images.append(images[: cfg.grid - have])
        if png_dir is not None:
            for img in images:
                write_png(img.permute(1, 2, 0).numpy(), Path(png_dir) / f"{cfg.seed + saved[0]:07d}.png")
                saved[0] += 1

    G = G.to(device).eval()
    t0 = time.perf_counter()
    batches = iter_generated(G, cfg.n_generated, cfg.batch, cfg.seed, cfg.truncation, device)
    generated = extract(
        batches, nets, total=cfg.n_generated, desc=f"evaluate {run or dataset}", progress=progress, tap=tap
    )
    seconds = time.perf_counter() - t0

    values = score(generated, ref, cfg, inc, prc_net)
    seeds = generation_seeds(cfg.n_generated, cfg.seed)
    protos = protocols(
        cfg,
        dataset=dataset,
        resolution=G.size,
        n_generated=cfg.n_generated,
        ref=ref,
        inc=inc,
        prc_net=prc_net,
        seeds=seeds,
        generated="generator (EMA), streamed, not written to disk"
        if png_dir is None
        else f"generator (EMA), also written to {png_dir}",
    )
    metrics = {
        "format": METRICS_FORMAT,
        "run": run,
        "dataset": dataset,
        "checkpoint": {"path": str(checkpoint), "step": step,
                       "embedding_sampling": getattr(G, "embedding_sampling", None)},
        **values,
    }
    if ref.n_floor:
        floor = score(ref.floor_features, ref, cfg, inc, prc_net)
        metrics["floor"] = floor
        for p in protos.values():
            p["floor"] = (
                f"{ref.n_floor} real images held out from the reference, scored like the "
                "generated ones (what a perfect generator would get at this N)"
            )
    metrics["protocol"] = protos
    metrics["reference"] = {
        "key": ref.key,
        "n_real": ref.n_real,
        "n_floor": ref.n_floor,
        "file": str(ref_file) if ref_file else None,
    }
    metrics["timing"] = {
        "seconds": round(seconds, 3),
        "generated_per_s": round(cfg.n_generated / seconds, 3),
        "device": str(device),
    }
    grid = sample_grid(torch.cat(grid_images)) if grid_images else np.zeros((1, 1, 3), np.uint8)
    return EvalResult(metrics, grid)


def compare_sets(
    a: torch.utils.data.Dataset,
    b: torch.utils.data.Dataset,
    *,
    kid: bool,
    prc: bool,
    cfg: EvalConfig,
    networks: tuple[FeatureNetwork, FeatureNetwork] | None = None,
    names: tuple[str, str] = ("A", "B"),
    progress: bool = True,
) -> dict:
    """FID (and optionally KID, P&R) between two image sets, A in the role of generated, B of real."""
    from cips.metrics.features import iter_dataset

    device = resolve_device(cfg.device)
    inc, prc_net = networks or load_networks(cfg, device)
    nets = [inc] if not prc or prc_net is inc else [inc, prc_net]
    fa = extract(iter_dataset(a, batch=cfg.batch), nets, total=len(a), desc=names[0], progress=progress)
    fb = extract(iter_dataset(b, batch=cfg.batch), nets, total=len(b), desc=names[1], progress=progress)
    res_a, res_b = int(a[0].shape[-1]), int(b[0].shape[-1])
    common = dict(
        dataset=names[1],
        resolution=res_a if res_a == res_b else -1,
        truncation=cfg.truncation,
        generated=names[0],
        real=names[1],
    )
    metrics = ("fid", *(("kid",) if kid else ()), *(("prc",) if prc else ()))
    out = registry.compute(fa, fb, cfg, {"inception": inc.name, "prc": prc_net.name}, metrics)
    protos = registry.protocols(cfg, {"inception": inc.protocol(), "prc": prc_net.protocol()}, len(a), len(b),
                                metrics, **common)
    if res_a != res_b:
        for p in protos.values():
            p["note"] = f"different resolutions: {names[0]} {res_a}px, {names[1]} {res_b}px"
    return {**out, "protocol": protos}


# --------------------------------------------------------------------------------------------
# from params.yaml: references per dataset, evaluation of a checkpoint


def reference_requests(params, dataset: str) -> list[tuple[int, EvalConfig]]:
    """(resolution, eval config) of the references the stage builds: the base eval protocol at each of the
    dataset's resolutions. It reads only `eval` and the dataset's entry, so editing one run re-runs no
    reference; a run that overrides the protocol gets its reference computed (and cached) at evaluation."""
    base = params.base_eval
    return [(res, base) for res in params.dataset(dataset).resolutions]


def build_references(
    params, dataset: str, root: str | Path = ".", progress: bool = True
) -> tuple[list[Reference], Path]:
    """Compute (or take from the cache) every reference of `dataset`, bundle them into
    data/<dataset>/fid_ref.npz under project root `root`, and write what defines them to
    data/<dataset>/reference.json, the file the evaluate stages depend on. Returns (references, bundle)."""
    layout = Layout(root, params.scale)
    refs = []
    cache: dict[tuple, tuple[FeatureNetwork, FeatureNetwork]] = {}
    for resolution, cfg in reference_requests(params, dataset):
        lmdb = layout.lmdb(dataset, resolution)
        if not lmdb.is_dir():
            raise FileNotFoundError(
                f"{lmdb}: no LMDB at {resolution}px for dataset {dataset} "
                f"(run `dvc repro prepare@{dataset}` or `cips prepare {dataset}`)"
            )
        device = resolve_device(cfg.device)
        nkey = (str(device), cfg.feature_path, prc_network_choice(cfg.prc_features))
        if nkey not in cache:
            cache[nkey] = load_networks(cfg, device)
        nets = networks_list(*cache[nkey])
        ref, _ = get_reference(
            dataset,
            lmdb,
            nets,
            n_real=cfg.n_real,
            n_floor=floor_count(cfg),
            seed=cfg.seed,
            cache=layout.reference_cache(dataset),
            batch=cfg.batch,
            progress=progress,
            selection=cfg.real_selection,
        )
        refs.append(ref)
    bundle = save_bundle(refs, layout.reference_bundle(dataset))
    save_identity(refs, layout.reference_identity(dataset))
    return refs, bundle


def references_from_params(dataset: str, params_path: str | Path = "params.yaml", root: str | Path = ".",
                           progress: bool = True) -> tuple[list[Reference], Path]:
    """The work of stage reference@<dataset>: every reference of the dataset, bundled."""
    from cips.scale import load_params

    params = load_params(params_path)
    params.dataset(dataset)  # one line naming an unknown dataset
    return build_references(params, dataset, root, progress)


def checkpoint_step(path: str | Path) -> int | None:
    """The training step stored in a checkpoint (memory-mapped read; None for imported ones)."""
    try:
        ckpt = torch_load_data(path, mmap=True)
    except Exception:  # an old-format file: the step is only informative
        return None
    return ckpt.get("step") if isinstance(ckpt, dict) else None


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: str,
    cfg: EvalConfig,
    *,
    run: str = "",
    root: str | Path = ".",
    real: str | Path | None = None,
    png_dir: str | Path | None = None,
    progress: bool = True,
    embedding_sampling: str | None = None,
    scale: str = "demo",
) -> EvalResult:
    """Load the EMA generator of a checkpoint (this project's format; official checkpoints after
    `cips import-official`) and evaluate it against `dataset` under project root `root` (or the images at
    `real`; `scale` says where its data lives). `embedding_sampling` (exact | official) overrides the one the
    checkpoint records."""
    from cips.models.checkpoint import load_generator

    layout = Layout(root, scale)
    checkpoint = Path(checkpoint)
    G = load_generator(checkpoint, ema=True, map_location="cpu", embedding_sampling=embedding_sampling)
    lmdb = Path(real) if real is not None else layout.lmdb(dataset, G.size)
    if not lmdb.exists():
        raise FileNotFoundError(
            f"{lmdb}: no real images for dataset {dataset} at {G.size}px "
            f"(run `dvc repro prepare@{dataset}`, or pass the images with --real)"
        )
    bundles = [layout.reference_bundle(dataset)] if real is None else []
    cache = layout.reference_cache(dataset) if real is None else None
    return evaluate_generator(
        G,
        dataset=dataset,
        cfg=cfg,
        lmdb=lmdb,
        reference_cache=cache,
        bundles=bundles,
        run=run,
        checkpoint=str(checkpoint),
        step=checkpoint_step(checkpoint),
        png_dir=png_dir,
        progress=progress,
    )


def training_run_id(checkpoint: str | Path) -> str | None:
    """The MLflow run of the training that wrote `checkpoint` (None for imported or untracked ones).

    Memory-mapped: only the small entries are read, not the weights evaluation has already loaded.
    """
    try:
        ckpt = torch_load_data(checkpoint, mmap=True)
    except Exception:  # noqa: BLE001 - unreadable or foreign: the evaluation then gets a run of its own
        return None
    return ckpt.get("mlflow_run_id") if isinstance(ckpt, dict) else None


def evaluate_from_params(run: str, params_path: str | Path = "params.yaml", root: str | Path = ".",
                         track: bool = True, progress: bool = True) -> EvalResult:
    """The work of stage evaluate@<run>: score the run's EMA generator, write runs/<run>/metrics.json and
    eval_samples.png, and log both into the run's MLflow training run."""
    from cips.scale import load_params

    params = load_params(params_path)
    layout = Layout(root, params.scale)
    cfg = params.run(run)
    checkpoint = layout.generator(run)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no generator (run `dvc repro train@{run}` first)")
    png_dir = layout.run(run) / "samples" if cfg.eval.save_png else None
    result = evaluate_checkpoint(checkpoint, cfg.dataset, cfg.eval, run=run, root=root, png_dir=png_dir,
                                 progress=progress, scale=params.scale)
    result.metrics["scale"] = params.scale  # the report refuses to mix scales
    write_json_atomic(result.metrics, layout.metrics(run))
    write_png(result.grid, layout.eval_samples(run))
    if track:
        from cips.tracking import log_evaluation

        log_evaluation(training_run_id(checkpoint), result.metrics, result.grid, root=root, run=cfg,
                       scale=params.scale)
    return result
