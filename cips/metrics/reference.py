"""Real-image features and statistics, computed once per dataset and protocol and cached by a hash.

A reference holds, for each feature network, the features of the real images used as the reference set
(FID statistics, KID and precision/recall need them) and, when a real-vs-real floor is asked for, the
features of `n_floor` further real images held out from the reference set (the floor measures what a
perfect generator would score at that sample count: the bias of the estimators at small N).

Which reals: a permutation of the LMDB's indices drawn with `seed`; the floor takes the first `n_floor`,
the reference the next `n_real` (or all the rest when `n_real` is None). Without a floor and with
`n_real` None the reference is every image, in order.

Files: `<dir>/<hash>.npz`, the hash over every setting that changes the numbers (dataset content digest,
resolution, counts, seed, networks and weight digests, resize, quantisation). Written atomically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from cips.files import save_npz_atomic, write_bytes_atomic
from cips.metrics.features import FeatureNetwork, extract, iter_dataset, open_images
from cips.sampling import QUANTISATION

FORMAT = "cips-repro/reference/1"


@dataclass
class Reference:
    """Real features for one (dataset, resolution, protocol)."""

    settings: dict
    features: dict[str, np.ndarray]  # network name -> (n_real, D)
    floor_features: dict[str, np.ndarray] = field(default_factory=dict)  # network name -> (n_floor, D)
    stats: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # network name -> mu, sigma

    @property
    def key(self) -> str:
        return settings_hash(self.settings)

    @property
    def n_real(self) -> int:
        return int(self.settings["n_real"])

    @property
    def n_floor(self) -> int:
        return int(self.settings["n_floor"])

    def fid_stats(self, network: str) -> dict[str, np.ndarray]:
        if network not in self.stats:
            from cips.metrics.quality import fid_statistics

            self.stats[network] = fid_statistics(self.features[network])
        return self.stats[network]


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def select_indices(
    length: int, n_real: int | None, n_floor: int, seed: int, where: str = "dataset", selection: str = "random"
) -> tuple[np.ndarray, np.ndarray]:
    """(reference indices, floor indices), disjoint, as described in the module docstring; selection
    "first" takes the first n_real images in LMDB order (the official CIPS protocol), the floor the next."""
    if n_floor < 0 or (n_real is not None and n_real < 1):
        raise ValueError(f"{where}: n_real must be >= 1 (or null) and n_floor >= 0, got {n_real}, {n_floor}")
    need = (n_real or 1) + n_floor
    if need > length:
        raise ValueError(
            f"{where}: {length} images, but the protocol needs {need} "
            f"({n_real or 'all'} reference + {n_floor} held out for the real-vs-real floor)"
        )
    if n_floor == 0 and n_real is None:
        return np.arange(length), np.arange(0)
    if selection == "first":
        n_ref = length - n_floor if n_real is None else n_real
        return np.arange(n_ref), np.arange(n_ref, n_ref + n_floor)
    perm = np.random.default_rng(seed).permutation(length)
    floor = np.sort(perm[:n_floor])
    ref = perm[n_floor:] if n_real is None else perm[n_floor : n_floor + n_real]
    return np.sort(ref), floor


def reference_settings(
    dataset: str,
    images: Dataset,
    resolution: int,
    networks: list[FeatureNetwork],
    n_real: int | None,
    n_floor: int,
    seed: int,
    selection: str = "random",
) -> dict:
    """Everything that determines the reference's numbers (hashed into its file name)."""
    describe = images.describe() if hasattr(images, "describe") else {"count": len(images)}
    ref, floor = select_indices(len(images), n_real, n_floor, seed, dataset, selection)
    return {
        "format": FORMAT,
        "dataset": dataset,
        "source": describe,
        "resolution": int(resolution),
        "n_real": int(len(ref)),
        "n_real_requested": n_real,
        "n_floor": int(len(floor)),
        "seed": int(seed),
        "selection": "all images"
        if n_real is None and n_floor == 0
        else f"the first {len(ref)} images in LMDB order (official protocol), floor = the next {len(floor)}"
        if selection == "first"
        else f"numpy default_rng({seed}).permutation: floor = first {len(floor)}, "
        f"reference = next {len(ref)}",
        "networks": {net.name: net.protocol() for net in networks},
        "quantisation": QUANTISATION,
    }


def reference_arrays(ref: Reference, prefix: str = "") -> dict[str, np.ndarray]:
    arrays = {f"{prefix}settings": np.array(json.dumps(ref.settings, sort_keys=True))}
    for name, feats in ref.features.items():
        stats = ref.fid_stats(name)
        arrays[f"{prefix}features/{name}"] = feats.astype(np.float32)
        arrays[f"{prefix}mu/{name}"] = stats["mu"]
        arrays[f"{prefix}sigma/{name}"] = stats["sigma"]
    for name, feats in ref.floor_features.items():
        arrays[f"{prefix}floor/{name}"] = feats.astype(np.float32)
    return arrays


def save_reference(ref: Reference, path: str | Path) -> Path:
    path = Path(path)
    save_npz_atomic(path, reference_arrays(ref))
    return path


def save_bundle(refs: list[Reference], path: str | Path) -> Path:
    """Several references in one file (one per resolution/protocol of a dataset), keyed by their hash."""
    arrays = {"index": np.array(json.dumps({r.key: r.settings for r in refs}, sort_keys=True))}
    for r in refs:
        arrays.update(reference_arrays(r, prefix=f"{r.key}/"))
    path = Path(path)
    save_npz_atomic(path, arrays)
    return path


def save_identity(refs: list[Reference], path: str | Path) -> Path:
    """What defines the references of a bundle, without their features: {key: settings} as sorted JSON.

    The features differ in their last bits between CPUs (and thread counts); these settings do not. Stage
    evaluate depends on this file, git-tracked, rather than on the bundle, so a clone on another machine
    recomputes the bundle without re-scoring every model, while another protocol, count, network or image set
    changes a key here and re-scores them."""
    text = json.dumps({r.key: r.settings for r in refs}, indent=2, sort_keys=True) + "\n"
    return write_bytes_atomic(text.encode(), path)


def _load_arrays(z, prefix: str = "") -> Reference:
    settings = json.loads(str(z[f"{prefix}settings"]))
    ref = Reference(settings, {})
    for key in z.files:
        if not key.startswith(prefix):
            continue
        kind, _, name = key[len(prefix) :].partition("/")
        if kind == "features":
            ref.features[name] = z[key]
        elif kind == "floor":
            ref.floor_features[name] = z[key]
        elif kind == "mu":
            ref.stats.setdefault(name, {})["mu"] = z[key]
        elif kind == "sigma":
            ref.stats.setdefault(name, {})["sigma"] = z[key]
    return ref


def load_reference(path: str | Path, key: str | None = None) -> Reference:
    """A reference file (or, with `key`, one entry of a bundle)."""
    path = Path(path)
    try:
        with np.load(path) as z:
            if "index" in z.files:
                index = json.loads(str(z["index"]))
                if key is None:
                    if len(index) != 1:
                        raise ValueError(f"{path}: a bundle of {len(index)} references; pick one by key")
                    key = next(iter(index))
                if key not in index:
                    raise KeyError(key)
                return _load_arrays(z, f"{key}/")
            ref = _load_arrays(z)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a readable reference file ({err})") from None
    if key is not None and ref.key != key:
        raise KeyError(key)
    return ref


def bundle_keys(path: str | Path) -> dict[str, dict]:
    with np.load(path) as z:
        if "index" in z.files:
            return json.loads(str(z["index"]))
        settings = json.loads(str(z["settings"]))
        return {settings_hash(settings): settings}


def compute_reference(
    dataset: str,
    images: Dataset,
    networks: list[FeatureNetwork],
    *,
    n_real: int | None,
    n_floor: int = 0,
    seed: int = 0,
    batch: int = 64,
    progress: bool = True,
    selection: str = "random",
) -> Reference:
    """Extract real features (reference set and floor set) in one pass per set."""
    first = images[0]
    resolution = int(first.shape[-1])
    settings = reference_settings(dataset, images, resolution, networks, n_real, n_floor, seed, selection)
    ref_idx, floor_idx = select_indices(len(images), n_real, n_floor, seed, dataset, selection)
    feats = extract(
        iter_dataset(images, ref_idx.tolist(), batch),
        networks,
        total=len(ref_idx),
        desc=f"reference {dataset}",
        progress=progress,
    )
    floor = {}
    if len(floor_idx):
        floor = extract(
            iter_dataset(images, floor_idx.tolist(), batch),
            networks,
            total=len(floor_idx),
            desc=f"floor {dataset}",
            progress=progress,
        )
    ref = Reference(settings, feats, floor)
    for net in networks:
        ref.fid_stats(net.name)
    return ref


def get_reference(
    dataset: str,
    lmdb_path: str | Path,
    networks: list[FeatureNetwork],
    *,
    n_real: int | None,
    n_floor: int = 0,
    seed: int = 0,
    cache: str | Path | None = None,
    batch: int = 64,
    bundles: list[str | Path] = (),
    progress: bool = True,
    selection: str = "random",
) -> tuple[Reference, Path | None]:
    """The reference for these settings: from a bundle or the cache directory if present, else computed
    (and then written to the cache directory). Returns (reference, file it came from or went to)."""
    images = open_images(lmdb_path)
    resolution = int(images[0].shape[-1])
    settings = reference_settings(dataset, images, resolution, networks, n_real, n_floor, seed, selection)
    key = settings_hash(settings)
    for bundle in bundles:
        bundle = Path(bundle)
        if bundle.is_file() and key in bundle_keys(bundle):
            return load_reference(bundle, key), bundle
    path = Path(cache) / f"{key}.npz" if cache is not None else None
    if path is not None and path.is_file():
        ref = load_reference(path)
        if ref.settings == settings:
            return ref, path
    ref = compute_reference(
        dataset, images, networks, n_real=n_real, n_floor=n_floor, seed=seed, batch=batch, progress=progress,
        selection=selection,
    )
    if path is not None:
        save_reference(ref, path)
    return ref, path
