"""Speed of the FID feature path against torch-fidelity's own command-line path, on this machine.

    python benchmarks/fid.py [--n 64] [--size 64] [--repeat 3] [--device cpu]

Measured in one run, on the same images, each contender run `--repeat` times interleaved with the
others and its best time kept (other load on the machine slows single runs at random):
  1. folders -> FID: torch-fidelity's calculate_metrics(input1=folder A, input2=folder B, fid=True)
     (what its `fidelity` command runs, with the same verified Inception weights) against `cips fid`
     on the same folders (compare_sets), fast and exact feature paths;
  2. tensors -> features: torch-fidelity's Inception module against ours (generation excluded);
  3. generator -> features (generation included): samples streamed into the features, against
     writing them as PNGs and running torch-fidelity on that folder (plus folder B, whose share is
     removed using the folder timing of 1.). The generator is the CIPS generator when
     cips.models.cips is importable, else a small stand-in (cips.metrics.toy.ToyGenerator): this line
     then measures the evaluation's own overhead, not CIPS's synthesis speed.
Prints images/s and the ratio ours / torch-fidelity (> 1: ours is faster).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fixtures: toy images and LMDBs
from PIL import Image


def race(contenders: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[object, float]]:
    """Run each contender `repeat` times, interleaved; keep each one's last result and best time."""
    best: dict[str, tuple[object, float]] = {}
    for _ in range(repeat):
        for name, fn in contenders.items():
            t = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t
            if name not in best or dt < best[name][1]:
                best[name] = (out, dt)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="images per set")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="This DataLoader will create")  # torch-fidelity's 4 workers

    import torch_fidelity
    from fixtures.toy import ToyGenerator, blob_images

    from cips.config import EvalConfig
    from cips.metrics import inception
    from cips.metrics.evaluate import compare_sets
    from cips.metrics.features import FolderImages, extract, load_inception
    from cips.sampling import iter_generated

    weights = inception.converted_weights()
    name = inception.register()
    cuda = args.device.startswith("cuda")
    n, total = args.n, 2 * args.n
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
        f"{n} images per set at {args.size}px; best of {args.repeat}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for sub, seed in (("a", 0), ("b", 1)):
            (tmp / sub).mkdir()
            for i, img in enumerate(blob_images(n, args.size, seed=seed)):
                Image.fromarray(img).save(tmp / sub / f"{i:06d}.png")

        def theirs(a: Path = tmp / "a", b: Path = tmp / "b") -> float:
            return torch_fidelity.calculate_metrics(
                input1=str(a),
                input2=str(b),
                fid=True,
                cuda=cuda,
                cache=False,
                verbose=False,
                batch_size=args.batch,
                feature_extractor=name,
                feature_extractor_weights_path=weights.path,
            )["frechet_inception_distance"]

        def ours(path: str = "fast") -> float:
            cfg = EvalConfig(batch=args.batch, device=args.device, feature_path=path)
            a, b = FolderImages(tmp / "a"), FolderImages(tmp / "b")
            return compare_sets(a, b, kid=False, prc=False, cfg=cfg, progress=False)["fid"]

        theirs()  # warm-up (file cache, thread pools)
        r = race({"theirs": theirs, "fast": ours, "exact": lambda: ours("exact")}, args.repeat)
        t_theirs = r["theirs"][1]
        print(
            f"folders -> FID    torch-fidelity       {total / t_theirs:7.2f} img/s   FID {r['theirs'][0]:.6f}"
        )
        for key in ("fast", "exact"):
            fid, t = r[key]
            print(
                f"folders -> FID    ours ({key:5s})         {total / t:7.2f} img/s   FID {fid:.6f}   "
                f"ratio {t_theirs / t:.2f}x"
            )

        net = load_inception(args.device)
        tf_net = inception.load_torch_fidelity_inception(weights).to(args.device)
        images = torch.from_numpy(blob_images(n, args.size, seed=2)).permute(0, 3, 1, 2).contiguous()

        def tf_features() -> list:
            with torch.no_grad():
                return [tf_net(b.to(args.device))[0] for b in images.split(args.batch)]

        net(images[:4]), tf_features()
        r = race({"theirs": tf_features, "ours": lambda: net(images)}, args.repeat)
        print(f"tensors -> feat   torch-fidelity net   {n / r['theirs'][1]:7.2f} img/s")
        print(
            f"tensors -> feat   ours (fast)          {n / r['ours'][1]:7.2f} img/s   "
            f"ratio {r['theirs'][1] / r['ours'][1]:.2f}x"
        )

        try:
            from cips.config import ModelConfig
            from cips.models import build_generator

            G = build_generator(ModelConfig(size=args.size, width=128, depth=6, style_dim=128))
            label = "CIPS (width 128, depth 6)"
        except ImportError:
            G = ToyGenerator(args.size)
            label = "stand-in ToyGenerator (cips.models.cips not available)"
        G = G.eval().to(args.device)

        def ours_gen() -> object:
            return extract(iter_generated(G, n, args.batch, 0, 1.0, args.device), [net], progress=False)

        def theirs_gen() -> float:
            out = tmp / "gen"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            i = 0
            for batch in iter_generated(G, n, args.batch, 0, 1.0, args.device):
                for img in batch:
                    Image.fromarray(img.permute(1, 2, 0).numpy()).save(out / f"{i:06d}.png")
                    i += 1
            return theirs(out, tmp / "b")  # torch-fidelity needs a second input: folder B

        r = race({"theirs": theirs_gen, "ours": ours_gen}, args.repeat)
        t_theirs_gen = r["theirs"][1] - n * (t_theirs / total)  # remove folder B's share
        print(f"generator -> feat ({label}):")
        print(f"  PNGs + torch-fidelity  {n / t_theirs_gen:7.2f} img/s (folder B's share removed)")
        t_ours_gen = r["ours"][1]
        print(f"  ours, streamed         {n / t_ours_gen:7.2f} img/s  ratio {t_theirs_gen / t_ours_gen:.2f}x")


if __name__ == "__main__":
    main()
