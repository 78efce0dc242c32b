"""prepare: a source -> transforms -> one LMDB per resolution, written atomically and deterministically."""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from tqdm import tqdm

from cips.config import DatasetConfig, to_dict
from cips.data import codec, transforms
from cips.data.errors import DataError
from cips.data.lmdb_io import MANIFEST_FORMAT, LmdbWriter, atomic_directory
from cips.data.sources import FashionMnistSource, Source, open_source

log = logging.getLogger("cips.data")
SKIPPED_LISTED = 10  # how many skipped file names the log and the manifest list


@dataclasses.dataclass
class PrepareResult:
    out: Path
    source_images: int
    written: int  # images per resolution (crops)
    skipped: int
    seconds: float
    content_sha256: dict[int, str]

    @property
    def images_per_second(self) -> float:
        """Source images processed per second."""
        return self.source_images / max(self.seconds, 1e-9)


# ---------------------------------------------------------------------------- worker side
_state: tuple[Source, DatasetConfig] | None = None


def _init_worker(source: Source, cfg: DatasetConfig) -> None:
    global _state
    _state = (source, cfg)


def _work(index: int) -> tuple[int, list[list[bytes]] | None, str | None]:
    """Item `index` -> encoded crops at every resolution, or the reason it was skipped."""
    assert _state is not None
    source, cfg = _state
    draft = math.ceil(cfg.jpeg_draft * max(cfg.resolutions)) if cfg.jpeg_draft else None
    try:
        image = source.load(index, draft)
    except Exception as err:  # any decoder failure means an unreadable file, never a crash
        return (
            index,
            None,
            f"unreadable ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
        )
    rng = np.random.default_rng([cfg.seed, index])  # per image: independent of worker scheduling
    try:
        crops = transforms.process(image, cfg, rng)
    except transforms.SkipImage as err:
        return index, None, str(err)
    except Exception as err:
        return index, None, f"cannot transform ({type(err).__name__}: {err})"
    return index, [[codec.encode(im, cfg.format, cfg.quality) for im in per_res] for per_res in crops], None


def _results(source: Source, cfg: DatasetConfig, workers: int):
    n = len(source)
    if workers <= 1:
        _init_worker(source, cfg)
        yield from map(_work, range(n))
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    chunksize = max(1, min(64, n // (workers * 16)))
    with mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(source, cfg)) as pool:
        yield from pool.imap(_work, range(n), chunksize=chunksize)


# ---------------------------------------------------------------------------- driver
def _manifest(
    name: str, cfg: DatasetConfig, source: Source, resolution: int, count: int, skipped: list[str], sha: str
) -> dict[str, Any]:
    channels = 3 if cfg.grayscale_to_rgb else 1
    encoding: dict[str, Any] = {"format": cfg.format, "channels": channels}
    if cfg.format == "raw":
        encoding["shape"] = [resolution, resolution, channels]
    if cfg.format == "jpeg":
        encoding["quality"] = cfg.quality
    params = to_dict(cfg)
    params.pop("workers")  # does not change the output
    params.pop("enabled")  # whether the graph holds the dataset, not what it is
    return {
        "format": MANIFEST_FORMAT,
        "dataset": name,
        "resolution": resolution,
        "count": count,
        "encoding": encoding,
        "source": {**source.describe(), "published": cfg.source.published, "licence": cfg.source.licence},
        "source_images": {
            "total": len(source),
            "used": len(source) - len(skipped),
            "skipped": len(skipped),
            "skipped_first": skipped[:SKIPPED_LISTED],
        },
        "transforms": {
            "pad_to": cfg.pad_to,
            "crop": to_dict(cfg.crop),
            "rotation": cfg.rotation,
            "filter": cfg.filter,
            "jpeg_draft": cfg.jpeg_draft,
            "grayscale_to_rgb": cfg.grayscale_to_rgb,
        },
        "seed": cfg.seed,
        "licence": cfg.source.licence,
        "params": params,
        "software": {"pillow": PIL.__version__, "numpy": np.__version__},
        "content_sha256": sha,
    }


def prepare_dataset(
    name: str,
    cfg: DatasetConfig,
    out: str | Path,
    *,
    root: str | Path = ".",
    workers: int | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Build `out`/<resolution>/ for every resolution of dataset `name`; `out` appears only when complete."""
    out = Path(out)
    workers = cfg.workers if workers is None else workers
    source = open_source(cfg.source, name, root)
    n = len(source)
    if n == 0:
        raise DataError(f"{source.path}: no images found (jpg, jpeg, png, webp, any case)")
    if isinstance(source, FashionMnistSource):
        source.preload()  # once, before the workers fork
    log.info(
        "prepare %s: %d source images from %s (%s), %d workers", name, n, source.path, source.kind, workers
    )
    start = time.perf_counter()
    skipped: list[str] = []
    with atomic_directory(out) as tmp:
        writers = {r: LmdbWriter(tmp / str(r)) for r in cfg.resolutions}
        results = _results(source, cfg, workers)
        try:
            bar = tqdm(
                total=n,
                unit="img",
                desc=f"prepare {name}",
                disable=not progress,
                mininterval=1.0,
                file=sys.stderr,
            )
            for index, crops, reason in results:
                bar.update(1)
                if crops is None:
                    skipped.append(f"{source.name(index)}: {reason}")
                    continue
                for per_res in crops:
                    for r, value in zip(cfg.resolutions, per_res, strict=True):
                        writers[r].put(value)
            bar.close()
            written = writers[cfg.resolutions[0]].count
            if written == 0:
                raise DataError(
                    f"{source.path}: none of the {n} source images could be used (first: {skipped[0]})"
                )
            shas = {}
            for r, w in writers.items():
                shas[r] = w.content_sha256
                w.finish(_manifest(name, cfg, source, r, w.count, skipped, shas[r]))
        except BaseException:
            results.close()  # stops the worker pool now
            for w in writers.values():
                w.abort()
            raise
    seconds = time.perf_counter() - start
    if skipped:
        log.warning(
            "prepare %s: skipped %d of %d source images; first: %s",
            name,
            len(skipped),
            n,
            "; ".join(skipped[:SKIPPED_LISTED]),
        )
    result = PrepareResult(out, n, written, len(skipped), seconds, shas)
    log.info(
        "prepare %s: %d images at %s px -> %s in %.1f s (%.0f source images/s, %d workers)",
        name,
        written,
        "/".join(map(str, cfg.resolutions)),
        out,
        seconds,
        result.images_per_second,
        workers,
    )
    return result


def prepare_from_params(
    dataset: str,
    params: str | Path = "params.yaml",
    out: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    root: str | Path = ".",
) -> PrepareResult:
    """The work of stage prepare@<dataset>: entry `dataset` of params.yaml into `out` (default
    data/<dataset>/lmdb under project root `root`, which relative source paths are read from too)."""
    from cips.layout import Layout
    from cips.scale import load_params

    loaded = load_params(params)
    cfg = loaded.dataset(dataset)
    out = Layout(root, loaded.scale).lmdb(dataset) if out is None else Path(out)
    return prepare_dataset(dataset, cfg, out, root=root, workers=workers, progress=progress)
