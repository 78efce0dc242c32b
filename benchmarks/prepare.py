"""Speed of `prepare` and of the training Dataset against the official CIPS data method, same run.

    python benchmarks/prepare.py [--n 2000] [--size 512] [--res 256] [--workers 1 2]

Input: a folder of N synthetic size x size JPEGs (made here). Reference: the official prepare_data.py
method, re-implemented below: per resolution, a multiprocessing pool decodes each file with PIL,
resizes the shorter side with torchvision (bilinear, antialiased), encodes JPEG quality 85 and puts
it into one LMDB transaction. Ours: `cips.data.prepare.prepare_dataset` with the default settings
(Lanczos, raw values), with PNG values, and with the official settings (bilinear, JPEG 85).
Dataset: batches/s of `ImageLMDBDataset` through a DataLoader (2 workers, shuffled, flip on)
against the official Dataset method (PIL decode + torchvision ToTensor/Normalize) on the official LMDB.
Training: what a training step costs per image, for the "not the bottleneck" comparison.
"""

from __future__ import annotations

import argparse
import glob
import io
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import lmdb
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as tvt
from torchvision.transforms import functional as tvf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.synthetic import write_image_folder  # noqa: E402

from cips.config import DatasetConfig, ModelConfig, from_dict  # noqa: E402
from cips.data.dataset import ImageLMDBDataset  # noqa: E402
from cips.data.prepare import prepare_dataset  # noqa: E402


# ------------------------------------------------------------------ the official method (reference)
class _OfficialResizer:
    def __init__(self, size: int, quality: int = 85) -> None:
        self.size, self.quality = size, quality

    def __call__(self, job: tuple[int, str]) -> tuple[int, bytes]:
        index, filename = job
        image = Image.open(filename).convert("RGB")
        image = tvf.resize(image, self.size)  # shorter side to size, bilinear with antialiasing
        buf = io.BytesIO()
        image.save(buf, format="jpeg", quality=self.quality)
        return index, buf.getvalue()


def official_prepare(folder: Path, out: Path, sizes: list[int], workers: int) -> None:
    files = []
    for ext in ("jpg", "jpeg", "png", "webp"):
        for e in (ext, ext.upper()):
            files += glob.glob(f"{folder}/**/*.{e}", recursive=True)
    files.sort()
    out.mkdir(parents=True, exist_ok=True)
    for size in sizes:  # one pass over the files per resolution
        env = lmdb.open(str(out / str(size)), map_size=1 << 40, readahead=False)
        with env.begin(write=True) as txn:
            txn.put(b"length", str(len(files)).encode())
            with mp.get_context("fork").Pool(workers) as pool:
                jobs = pool.imap_unordered(_OfficialResizer(size), enumerate(files), chunksize=10)
                for index, data in jobs:
                    txn.put(f"{index:07d}".encode(), data)
        env.close()


class OfficialImageDataset(Dataset):
    """The official way of reading: PIL decode, then torchvision flip / ToTensor / Normalize."""

    def __init__(self, path: Path) -> None:
        self.env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
        with self.env.begin() as txn:
            self.length = int(txn.get(b"length").decode())
        self.transform = tvt.Compose(
            [tvt.RandomHorizontalFlip(), tvt.ToTensor(), tvt.Normalize((0.5,) * 3, (0.5,) * 3, inplace=True)]
        )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        with self.env.begin() as txn:
            data = txn.get(f"{index:07d}".encode())
        return self.transform(Image.open(io.BytesIO(data)))


# ------------------------------------------------------------------ measurements
def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its finished children) of fn()."""
    cpu, start = _cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - start, _cpu_seconds() - cpu


def _ours(folder: Path, out: Path, resolutions: list[int], workers: int, **settings) -> tuple[float, float]:
    cfg = from_dict(
        DatasetConfig,
        {"source": {"kind": "folder", "path": str(folder)}, "resolutions": resolutions, **settings},
    )
    shutil.rmtree(out, ignore_errors=True)
    return _timed(lambda: prepare_dataset("bench", cfg, out, workers=workers, progress=False))


def _official(folder: Path, out: Path, resolutions: list[int], workers: int) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    return _timed(lambda: official_prepare(folder, out, resolutions, workers))


def _best(n: int, runs: list[tuple[float, float]]) -> tuple[float, float]:
    """(images/s, CPU ms per image), the best of the repeats (least disturbed by other load)."""
    return n / min(w for w, _ in runs), 1000 * min(c for _, c in runs) / n


def _loader_rate(ds: Dataset, batch: int, workers: int, min_seconds: float = 4.0) -> tuple[float, float]:
    """(batches/s, images/s) over whole shuffled epochs, the workers' start-up included once."""
    loader = DataLoader(
        ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True, persistent_workers=True
    )
    n_batches = 0
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for _ in loader:
            n_batches += 1
    seconds = time.perf_counter() - start
    return n_batches / seconds, n_batches * batch / seconds


def _generator_tflop_per_image(cfg: ModelConfig) -> float:
    """Approximate flops of one CIPS-skips generator forward + backward per image (per-pixel layers only).

    Per pixel: Fourier features (2 -> width), the first ModFC (2*width -> width), depth - 1 ModFC
    layers (width -> width) and (depth - 1) // 2 RGB projections; backward costs about twice forward.
    """
    width, pixels = cfg.width, cfg.size * cfg.size
    macs = (
        2 * width + 2 * width * width + (cfg.depth - 1) * width * width + ((cfg.depth - 1) // 2) * width * 3
    )
    return 3 * 2 * macs * pixels / 1e12


def _measured_generator_rate(res: int) -> str:
    try:
        from cips.models import build_generator

        g = build_generator(ModelConfig(size=res))
    except Exception as err:  # the generator is not part of this checkout
        return f"not measured ({type(err).__name__}: {err})"
    z = torch.randn(2, g.style_dim)
    seconds, _ = _timed(lambda: g(z).square().mean().backward())
    return f"{2 / seconds:.2f} images/s (generator forward+backward, batch 2, this CPU)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--res", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="cips-bench-prepare-"))
    folder = work / "jpegs"
    if not folder.exists():
        print(f"writing {args.n} synthetic {args.size}x{args.size} JPEGs to {folder} ...", flush=True)
        write_image_folder(folder, args.n, args.size, seed=0)
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"\n== prepare: {args.n} images {args.size}->{args.res}; images/s (wall) and CPU ms per image "
        f"(all processes: the per-worker cost); best of {args.repeat}; ratio = ours / official speed"
    )
    variants = {
        "ours default (lanczos, raw)": {},
        "ours png (lanczos)": {"format": "png"},
        "ours jpeg_draft 1.0 (DCT 1/2, raw)": {"jpeg_draft": 1.0},
        "ours official settings (bilinear, jpeg 85)": {"format": "jpeg", "quality": 85, "filter": "bilinear"},
    }
    for workers in args.workers:
        runs: dict[str, list] = {"official method": [], **{name: [] for name in variants}}
        for _ in range(args.repeat):  # interleaved, so slow phases of other load hit every variant
            runs["official method"].append(
                _official(folder, work / f"official-{workers}", [args.res], workers)
            )
            for name, settings in variants.items():
                runs[name].append(_ours(folder, work / "ours", [args.res], workers, **settings))
        ref_rate, ref_cpu = _best(args.n, runs["official method"])
        for name, measured in runs.items():
            rate, cpu = _best(args.n, measured)
            print(
                f"  workers {workers}: {name:44s} {rate:7.1f} img/s (x{rate / ref_rate:4.2f})  "
                f"{cpu:5.2f} CPU ms/img (x{ref_cpu / cpu:4.2f})"
            )
    multi = [args.res, args.res // 2, args.res // 4]
    w = args.workers[-1]
    ref_rate, ref_cpu = _best(args.n, [_official(folder, work / "official-multi", multi, w)])
    rate, cpu = _best(args.n, [_ours(folder, work / "ours-multi", multi, w)])
    print(
        f"  resolutions {multi}, workers {w}: official {ref_rate:.1f} img/s {ref_cpu:.2f} CPU ms/img; "
        f"ours default {rate:.1f} img/s (x{rate / ref_rate:.2f}) {cpu:.2f} CPU ms/img (x{ref_cpu / cpu:.2f})"
    )

    print(f"\n== Dataset at {args.res}: DataLoader, 2 workers, shuffled, flip")
    _ours(folder, work / "ours-raw", [args.res], args.workers[-1])
    _ours(folder, work / "ours-png", [args.res], args.workers[-1], format="png")
    datasets = {
        "ours raw": ImageLMDBDataset(work / "ours-raw", flip=True),
        "ours png": ImageLMDBDataset(work / "ours-png", flip=True),
        "official method (jpeg 85)": OfficialImageDataset(
            work / f"official-{args.workers[0]}" / str(args.res)
        ),
    }
    for batch in (64, 256):
        for name, ds in datasets.items():
            bps, ips = _loader_rate(ds, batch, 2)
            print(f"  batch {batch:3d}: {name:28s} {bps:7.2f} batches/s  {ips:8.1f} images/s")

    print(f"\n== training cost per image at {args.res} (for comparison with the Dataset's images/s)")
    tflop = _generator_tflop_per_image(ModelConfig(size=args.res))
    print(
        f"  CIPS-skips generator alone: {tflop:.2f} TFLOP per trained image (forward + backward, dense "
        f"layers); at an H100's 989 TFLOP/s dense bf16 peak that is at most {989 / tflop:.0f} images/s, "
        f"before the discriminator and R1"
    )
    print(f"  measured here: {_measured_generator_rate(args.res)}")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
