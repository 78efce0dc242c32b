"""The CIPS generator: variants, coordinate sets, pixel independence, ModFC exactness, gradients."""

import math

import pytest
import torch

from cips import coords
from cips.config import ConfigError, ModelConfig, from_dict
from cips.models import build_generator
from cips.models.cips import CIPSGenerator, CoordinateEmbedding
from cips.models.modfc import ModFC, modfc_reference

SMALL = dict(size=16, width=32, depth=5, style_dim=32, n_mlp=2)

# the six configurations of Table 3, as flags
TABLE3 = {
    "base": dict(skips=False),
    "ne": dict(skips=False, embeddings=False),
    "nofourier": dict(skips=False, fourier=False),
    "main": dict(skips=True),
    "residual": dict(skips=False, residual=True),
    "sine": dict(skips=False, fourier=False, activation="sine"),
}


def make(**kw) -> CIPSGenerator:
    torch.manual_seed(0)
    return CIPSGenerator(**{**SMALL, **kw})


@pytest.mark.parametrize("variant", sorted(TABLE3))
def test_variant_shapes_and_grid_output(variant):
    g = make(**TABLE3[variant])
    z = torch.randn(3, 32)
    img = g(z)
    assert img.shape == (3, 3, 16, 16)
    assert torch.isfinite(img).all()
    # the default input is the full training grid: passing it explicitly gives the same image
    same = g(z, coords=coords.grid(16).expand(3, -1, -1, -1), noise_mode="zero")
    torch.testing.assert_close(same, g(z, noise_mode="zero"), rtol=1e-5, atol=1e-5)


def test_variants_differ_exactly_as_table3_says():
    names = {v: {n.split(".")[0] for n, _ in make(**kw).named_parameters()} for v, kw in TABLE3.items()}
    assert "embeddings" not in names["ne"] and "fourier" in names["ne"]
    assert "fourier" not in names["nofourier"] and "embeddings" in names["nofourier"]
    assert "fourier" not in names["sine"]
    assert make(**TABLE3["main"]).to_rgbs.keys() != make(**TABLE3["base"]).to_rgbs.keys()
    assert len(make(**TABLE3["main"]).to_rgbs) == 2  # depth 5: an RGB projection every two layers
    assert len(make(**TABLE3["base"]).to_rgbs) == 1
    assert make(**TABLE3["sine"]).layers[1].activation == "sine"
    assert make(**TABLE3["residual"]).residual and not make(**TABLE3["base"]).residual
    # residual = the official CIPSres: the first layer, (depth - 1) / 2 blocks of two layers, one RGB layer
    res, base = make(**TABLE3["residual"]), make(**TABLE3["base"])
    assert len(res.layers) == SMALL["depth"] and list(res.to_rgbs) == [str(SMALL["depth"] - 1)]
    assert len(base.layers) == SMALL["depth"] - 1
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(res) == count(base) + count(res.layers[-1])  # identity shortcuts at constant width


def test_residual_layer_plan_matches_official_cipsres_at_256():
    """Official CIPSres at 256: linears.0, then 7 StyledResBlocks, then to_rgb_last."""
    with torch.device("meta"):
        g = CIPSGenerator(size=256, width=512, depth=15, style_dim=512, n_mlp=8, skips=False, residual=True)
    assert len(g.layers) == 15 and list(g.to_rgbs) == ["14"]
    with pytest.raises(ConfigError, match="odd depth"):
        from_dict(ModelConfig, {"skips": False, "residual": True, "depth": 14}, "model")


@pytest.mark.parametrize("off", ["embeddings", "fourier"])
def test_switched_off_encoding_is_zeros_by_default_or_widens(off):
    """zeros (default): the first layer keeps 2 * width inputs, the missing encoding's half is zero;
    widen: the other encoding is 2 * width wide."""
    on = "fourier" if off == "embeddings" else "embeddings"
    width = SMALL["width"]
    zeros, widen = make(**{off: False}), make(**{off: False}, encoding_fill="widen")
    for g in (zeros, widen):
        assert g.layers[0].fc.weight.shape[1] == 2 * width
    assert zeros.encodings(batch=1)[on].shape[-1] == width
    assert widen.encodings(batch=1)[on].shape[-1] == 2 * width
    x = zeros._encode(None, 2, False, False)
    half = slice(width, None) if off == "embeddings" else slice(0, width)
    assert x.shape[-1] == 2 * width and (x[..., half] == 0).all() and x.abs().sum() > 0
    with pytest.raises(ValueError, match="encoding_fill"):
        make(encoding_fill="stretch")


def test_invalid_combinations_are_refused():
    with pytest.raises(ValueError, match="at least one positional encoding"):
        CIPSGenerator(**SMALL, fourier=False, embeddings=False)
    with pytest.raises(ConfigError, match="model.fourier"):
        from_dict(ModelConfig, {"fourier": False, "embeddings": False}, "model")


def test_build_from_config():
    cfg = from_dict(ModelConfig, {**SMALL, "embeddings": False}, "model")
    g = build_generator(cfg)
    assert isinstance(g, CIPSGenerator) and g.embeddings is None


def test_residual_shortcut_projection_with_narrowing_channels():
    g = make(skips=False, residual=True, depth=5, channels=[32, 16])
    assert "3" in g.shortcuts  # block of layers 3-4 goes 32 -> 16
    assert g(torch.randn(2, 32)).shape == (2, 3, 16, 16)


def test_coordinate_sets():
    g = make()
    z = torch.randn(2, 32)
    u, v = coords.random_patch_offsets(2, 16, 4, 4, generator=torch.Generator().manual_seed(1))
    assert g(z, coords=coords.patch_grid(16, 4, 4, u, v)).shape == (2, 3, 4, 4)
    assert g(z, coords=coords.dense_grid(16, 4).expand(2, -1, -1, -1)).shape == (2, 3, 64, 64)
    pts = coords.foveated_points(16, 0.25, batch=2, generator=torch.Generator().manual_seed(0))
    assert pts.shape == (2, 64, 2)
    assert g(z, coords=pts).shape == (2, 64, 3)
    with pytest.raises(ValueError, match="coords must be"):
        g(z, coords=torch.zeros(2, 3, 4, 4))


def test_patch_of_full_grid_equals_crop_of_full_image():
    g = make()
    z = torch.randn(2, 32)
    full = g(z, noise_mode="zero")
    u, v = torch.tensor([0, 5]), torch.tensor([3, 1])
    patch = g(z, coords=coords.patch_grid(16, 6, 2, u, v), noise_mode="zero")
    torch.testing.assert_close(patch, coords.extract_patches(full, u, v, 6, 2), rtol=1e-4, atol=1e-4)


def test_pixel_independence():
    g = make()
    z = torch.randn(1, 32)
    grid = coords.grid(16).clone()
    ref = g(z, coords=grid, noise_mode="zero")
    moved = grid.clone()
    moved[0, :, 5, 7] = torch.tensor([0.3, -0.8])
    out = g(z, coords=moved, noise_mode="zero")
    changed = (out - ref).abs().amax(1)[0] > 1e-6
    assert changed[5, 7] and changed.sum() == 1


def test_embeddings_at_grid_nodes_equal_the_stored_vectors():
    emb = CoordinateEmbedding(8, 8, 5)
    pts = coords.grid(8).permute(0, 2, 3, 1).reshape(1, 64, 2)
    assert torch.equal(emb(pts)[0], emb.weight.reshape(64, 5))
    # halfway between two nodes is their mean
    mid = torch.tensor([[[coords.pixel_to_coord(torch.tensor(2.5), 8).item(), -1.0]]])
    torch.testing.assert_close(emb(mid)[0, 0], (emb.weight[0, 2] + emb.weight[0, 3]) / 2)


def test_cylinder_wraps_around():
    g = make(coords="cylindrical", panorama_width=48)
    assert g.embeddings.weight.shape[:2] == (16, 48)
    z = torch.randn(1, 32)
    a = g(z, coords=coords.cylinder_grid(16, 48, torch.tensor([40]), 16), noise_mode="zero")
    b = g(z, coords=coords.cylinder_grid(16, 48, torch.tensor([40 - 48]), 16), noise_mode="zero")
    torch.testing.assert_close(a, b)
    # columns 8.. of a crop at 40 are columns 0.. of a crop at 0 (the seam is continuous)
    c = g(z, coords=coords.cylinder_grid(16, 48, torch.tensor([0]), 16), noise_mode="zero")
    torch.testing.assert_close(a[..., 8:], c[..., :8], rtol=1e-5, atol=1e-5)
    full = g(z, coords=coords.cylinder_grid(16, 48, torch.tensor([0]), 48), noise_mode="zero")
    assert full.shape == (1, 3, 16, 48)


@pytest.mark.parametrize("impl", ["bmm", "act"])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modfc_equals_weight_modulation(impl, demodulate):
    torch.manual_seed(0)
    layer = ModFC(24, 20, 16, demodulate=demodulate, impl=impl).double()
    x = torch.randn(3, 50, 24, dtype=torch.double)
    s = layer.styles(torch.randn(3, 16, dtype=torch.double))
    ref = modfc_reference(x, layer.weight * layer.scale, s, demodulate)
    torch.testing.assert_close(layer(x, s), ref, rtol=1e-10, atol=1e-10)


def test_modfc_forms_agree_in_value_and_gradient():
    torch.manual_seed(0)
    g1, g2 = make(modfc="bmm").double(), make(modfc="act").double()
    g2.load_state_dict(g1.state_dict())
    z = torch.randn(2, 32, dtype=torch.double)
    out1, out2 = g1(z, noise_mode="zero"), g2(z, noise_mode="zero")
    torch.testing.assert_close(out1, out2, rtol=1e-10, atol=1e-10)
    out1.square().sum().backward()
    out2.square().sum().backward()
    for (n, p1), p2 in zip(g1.named_parameters(), g2.parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-9, atol=1e-9, msg=n)


@pytest.mark.parametrize("variant", sorted(TABLE3))
def test_gradients_reach_every_parameter(variant):
    g = make(**TABLE3[variant])
    out = g(torch.randn(2, 32))  # random noise so noise strengths get gradients too
    out.square().mean().backward()
    missing = [n for n, p in g.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
               or (p.grad == 0).all() and "noise_strength" not in n]
    assert not missing
    assert all(p.grad is not None for n, p in g.named_parameters() if "noise_strength" in n)


def test_styles_truncation_and_mixing():
    g = make()
    z = torch.randn(2, 32)
    w = g.mapping(z)
    per_layer = w.unsqueeze(1).expand(-1, g.num_ws, -1)
    torch.testing.assert_close(g(ws=w, noise_mode="zero"), g(ws=per_layer, noise_mode="zero"))
    mean = g.mean_w(n=256)
    torch.testing.assert_close(g(z, truncation=0.0, truncation_w=mean, noise_mode="zero"),
                               g(ws=mean.expand(2, -1), noise_mode="zero"), rtol=1e-5, atol=1e-5)
    mixed = per_layer.clone()
    mixed[:, 3:] = g.mapping(torch.randn(2, 32)).unsqueeze(1)
    assert not torch.allclose(g(ws=mixed, noise_mode="zero"), g(ws=w, noise_mode="zero"))


def test_zeroing_an_encoding_changes_the_image():
    g = make()
    z = torch.randn(1, 32)
    base = g(z, noise_mode="zero")
    for kw in ({"zero_fourier": True}, {"zero_embeddings": True}):
        assert (g(z, noise_mode="zero", **kw) - base).abs().max() > 1e-3
    enc = g.encodings()
    assert enc["fourier"].shape == (1, 256, 32) and enc["embeddings"].shape == (1, 256, 32)


def test_chunked_inference_equals_unchunked_also_with_random_noise():
    g = make()
    z = torch.randn(2, 32)
    dense = coords.dense_grid(16, 2).expand(2, -1, -1, -1)
    with torch.no_grad():
        a = g(z, coords=dense, noise_generator=torch.Generator().manual_seed(3))
        b = g(z, coords=dense, chunk=100, noise_generator=torch.Generator().manual_seed(3))
        c = g(z, chunk=37, noise_mode="zero")
        d = g(z, noise_mode="zero")
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(c, d, rtol=1e-5, atol=1e-5)


def test_noise_modes():
    g = make()
    z = torch.randn(1, 32)
    for layer in g.layers:
        layer.noise_strength.data.fill_(0.5)
    assert torch.equal(g(z, noise_mode="zero"), g(z, noise_mode="zero"))
    assert not torch.equal(g(z), g(z))
    assert all(layer.noise_strength is None for layer in make(noise=False).layers)


def test_depth_counts_layers_on_the_main_path():
    # with skips: D modulated layers; without: D - 1 modulated layers plus the RGB output layer
    assert len(make(depth=15, skips=True).layers) == 15
    assert len(make(depth=15, skips=False).layers) == 14
    assert math.isclose(len(make(depth=15).to_rgbs), 7)


@pytest.mark.parametrize("variant", [dict(skips=False), dict(skips=False, embeddings=False),
                                     dict(skips=False, fourier=False), dict(skips=False, residual=True),
                                     dict(skips=False, fourier=False, activation="sine"), {},
                                     dict(coords="cylindrical", panorama_width=64), dict(noise=False),
                                     dict(arch="stylegan2")])
def test_every_parameter_gets_a_gradient(variant):
    """DistributedDataParallel (without find_unused_parameters) waits for a gradient of every parameter."""
    cfg = ModelConfig(size=16, width=16, depth=5, style_dim=16, n_mlp=2, channel_base=128, channel_max=16, **variant)
    g = build_generator(cfg)
    g(torch.randn(2, 16)).sum().backward()
    assert [n for n, p in g.named_parameters() if p.grad is None] == []
