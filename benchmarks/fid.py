"""Speed of the FID feature path against torch-fidelity's own command-line path, on this machine.

    python benchmarks/fid.py [--n 128] [--size 64] [--device cpu]

Measured in one run, on the same images:
  1. torch-fidelity: calculate_metrics(input1=folder A, input2=folder B, fid=True) (what its `fidelity`
     command runs), with the same verified Inception weights;
  2. ours: `cips fid` (compare_sets) on the same folders, fast path and exact path;
  3. features only, images already in memory (generation excluded);
  4. generation included: samples streamed from a generator into the features, against writing them as
     PNGs and running torch-fidelity on the folder. The generator is the CIPS generator when
     cips.models.cips is importable, else a small stand-in (cips.metrics.toy.ToyGenerator): this
     line then measures the evaluation overhead, not CIPS's synthesis speed.
Prints images/s and the ratio ours / torch-fidelity (> 1: ours is faster).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128, help="images per set")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="This DataLoader will create")  # torch-fidelity's 4 workers

    import torch_fidelity

    from cips.config import EvalConfig
    from cips.metrics import inception
    from cips.metrics.evaluate import compare_sets
    from cips.metrics.features import FolderImages, extract, iter_generated, load_inception
    from cips.metrics.toy import ToyGenerator, blob_images

    weights = inception.converted_weights()
    name = inception.register()
    cuda = args.device.startswith("cuda")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
        f"{args.n} images per set at {args.size}px"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for sub, seed in (("a", 0), ("b", 1)):
            (tmp / sub).mkdir()
            for i, img in enumerate(blob_images(args.n, args.size, seed=seed)):
                Image.fromarray(img).save(tmp / sub / f"{i:06d}.png")
        total = 2 * args.n

        def theirs(a=tmp / "a", b=tmp / "b"):
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

        cfg = EvalConfig(batch=args.batch, device=args.device)
        cfg_exact = EvalConfig(batch=args.batch, device=args.device, feature_path="exact")

        def ours(c=cfg):
            return compare_sets(
                FolderImages(tmp / "a"), FolderImages(tmp / "b"), kid=False, prc=False, cfg=c, progress=False
            )["fid"]

        theirs()  # warm-up (file cache, thread pools)
        fid_t, t_theirs = _timed(theirs)
        fid_o, t_ours = _timed(ours)
        fid_e, t_exact = _timed(lambda: ours(cfg_exact))
        print(f"folders -> FID   torch-fidelity      {total / t_theirs:7.2f} img/s   FID {fid_t:.4f}")
        print(
            f"folders -> FID   ours (fast)         {total / t_ours:7.2f} img/s   FID {fid_o:.4f}   "
            f"ratio {t_theirs / t_ours:.2f}x"
        )
        print(
            f"folders -> FID   ours (exact)        {total / t_exact:7.2f} img/s   FID {fid_e:.4f}   "
            f"ratio {t_theirs / t_exact:.2f}x"
        )

        net = load_inception(args.device)
        images = torch.from_numpy(blob_images(args.n, args.size, seed=2)).permute(0, 3, 1, 2).contiguous()
        net(images[:4])
        _, t_feat = _timed(lambda: net(images))
        tf_net = inception.load_torch_fidelity_inception(weights).to(args.device)

        def tf_features():
            with torch.no_grad():
                return [tf_net(b.to(args.device))[0] for b in images.split(args.batch)]

        tf_features()
        _, t_tf_feat = _timed(tf_features)
        print(f"tensors -> feat  torch-fidelity net  {args.n / t_tf_feat:7.2f} img/s")
        print(
            f"tensors -> feat  ours (fast)         {args.n / t_feat:7.2f} img/s   "
            f"ratio {t_tf_feat / t_feat:.2f}x"
        )

        try:
            from cips.config import ModelConfig
            from cips.models import build_generator

            G = build_generator(ModelConfig(size=args.size, width=128, depth=6, style_dim=128, channels=None))
            label = "CIPS (width 128, depth 6)"
        except ImportError:
            G = ToyGenerator(args.size)
            label = "stand-in ToyGenerator (cips.models.cips not available)"
        G = G.eval().to(args.device)
        n = args.n

        def ours_gen():
            feats = extract(iter_generated(G, n, args.batch, 0, 1.0, args.device), [net], progress=False)
            return feats[net.name]

        def theirs_gen():
            out = tmp / "gen"
            out.mkdir(exist_ok=True)
            i = 0
            for batch in iter_generated(G, n, args.batch, 0, 1.0, args.device):
                for img in batch:
                    Image.fromarray(img.permute(1, 2, 0).numpy()).save(out / f"{i:06d}.png")
                    i += 1
            # torch-fidelity needs two inputs: score against folder B, and count only the generated half
            return theirs(out, tmp / "b")

        _, t_og = _timed(ours_gen)
        _, t_tg = _timed(theirs_gen)
        # torch-fidelity's run above also extracted folder B: remove that share (measured per image above)
        t_tg_gen = t_tg - args.n * (t_theirs / total)
        print(f"generator -> feat ({label}):")
        print(f"  PNGs + torch-fidelity  {n / t_tg_gen:7.2f} img/s (estimated, folder B's share removed)")
        print(f"  ours, streamed         {n / t_og:7.2f} img/s   ratio {t_tg_gen / t_og:.2f}x")
        assert np.isfinite(fid_o)


if __name__ == "__main__":
    main()
