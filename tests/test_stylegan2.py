"""StyleGAN2 generator: shapes, Table-4 parameter count, style interface, modulated-convolution forms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cips.config import ModelConfig
from cips.models import build_generator
from cips.models.layers import blur2d, downsample2d, fir_kernel, upsample2d
from cips.models.stylegan2 import (
    ModulatedConv2d,
    StyleGAN2Generator,
    choose_modconv_impl,
    modulated_conv2d_reference,
)

SMALL = dict(style_dim=32, n_mlp=2, channel_base=256, channel_max=32)


def small_generator(size: int = 16, **kw) -> StyleGAN2Generator:
    torch.manual_seed(0)
    return StyleGAN2Generator(size, **{**SMALL, **kw})


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("size", [4, 8, 16, 32])
@pytest.mark.parametrize("batch", [1, 3])
def test_output_shape(size: int, batch: int) -> None:
    g = small_generator(size)
    assert g.num_ws == 2 * size.bit_length() - 4  # 2 log2(size) - 2
    img = g(torch.randn(batch, g.style_dim))
    assert img.shape == (batch, 3, size, size)
    assert torch.isfinite(img).all()


def test_parameter_count_matches_table4() -> None:
    with torch.device("meta"):
        g = build_generator(ModelConfig(arch="stylegan2"))
    assert isinstance(g, StyleGAN2Generator) and g.size == 256 and g.num_ws == 14
    n = sum(p.numel() for p in g.parameters())
    assert abs(n / 1e6 - 30.0) <= 0.1
    assert n == 30_034_338  # mapping 2,101,248 + constant 8,192 + synthesis 27,924,898


def test_channel_layout_is_the_official_256_config() -> None:
    with torch.device("meta"):
        g = StyleGAN2Generator(256)
    outs = [g.conv.conv.weight.shape[0]] + [b.conv1.conv.weight.shape[0] for b in g.blocks]
    assert outs == [512, 512, 512, 512, 512, 256, 128]  # 4, 8, ..., 256


def test_from_config_uses_every_field() -> None:
    cfg = ModelConfig(arch="stylegan2", size=8, style_dim=16, n_mlp=3, lr_mlp=0.1, channel_base=64,
                      channel_max=8, noise=False)
    g = build_generator(cfg)
    assert (g.size, g.style_dim, len(g.mapping.layers), g.mapping.layers[0].lr_mul) == (8, 16, 3, 0.1)
    assert g.const.weight.shape[1] == 8 and g.blocks[0].conv1.conv.weight.shape[0] == 8
    assert all(m.noise_strength is None for m in g.modules() if hasattr(m, "noise_strength"))
    assert {m.impl for m in g.modules() if isinstance(m, ModulatedConv2d)} == {"auto"}
    for modfc, impl in (("act", "act"), ("conv", "grouped"), ("bmm", "grouped")):
        g = build_generator(ModelConfig(arch="stylegan2", size=8, channel_base=64, channel_max=8,
                                        modfc=modfc))
        assert {m.impl for m in g.modules() if isinstance(m, ModulatedConv2d)} == {impl}


def test_zero_noise_is_deterministic_and_random_noise_is_not() -> None:
    g = small_generator()
    with torch.no_grad():
        for m in g.modules():
            if getattr(m, "noise_strength", None) is not None:
                m.noise_strength.fill_(0.5)
        z = torch.randn(2, g.style_dim)
        assert torch.equal(g(z, noise_mode="zero"), g(z, noise_mode="zero"))
        assert not torch.allclose(g(z), g(z))
        gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
        assert torch.equal(g(z, noise_generator=gen_a), g(z, noise_generator=gen_b))
    with pytest.raises(ValueError, match="noise_mode"):
        g(z, noise_mode="const")


def test_layerwise_ws_equal_layers_equals_single_w() -> None:
    g = small_generator()
    with torch.no_grad():
        w = g.mapping(torch.randn(3, g.style_dim))
        a = g(ws=w, noise_mode="zero")
        b = g(ws=w.unsqueeze(1).repeat(1, g.num_ws, 1), noise_mode="zero")
        assert torch.allclose(a, b, rtol=0, atol=1e-6)
        assert torch.allclose(a, g(z=None, ws=w, noise_mode="zero"))
        # mixing: a different style for the fine layers changes the image, the coarse ones stay
        mixed = w.unsqueeze(1).repeat(1, g.num_ws, 1)
        mixed[:, 5:] = g.mapping(torch.randn(3, g.style_dim)).unsqueeze(1)
        assert not torch.allclose(g(ws=mixed, noise_mode="zero"), a, atol=1e-4)


def test_truncation_zero_gives_the_image_of_truncation_w() -> None:
    g = small_generator()
    with torch.no_grad():
        z = torch.randn(4, g.style_dim)
        center = torch.randn(g.style_dim)
        out = g(z, truncation=0.0, truncation_w=center, noise_mode="zero")
        ref = g(ws=center.expand(4, -1), noise_mode="zero")
        assert torch.allclose(out, ref, rtol=0, atol=1e-6)
        mean = g.mean_w(n=2000, seed=3)
        assert mean.shape == (g.style_dim,)
        assert torch.equal(mean, g.mean_w(n=2000, seed=3))
        default = g(z, truncation=0.0, noise_mode="zero")  # toward mean_w() (n=10000, seed=0)
        assert torch.allclose(default, g(ws=g.mean_w().expand(4, -1), noise_mode="zero"), rtol=0, atol=1e-6)
        half = g(z, truncation=0.5, truncation_w=center, noise_mode="zero")
        w = g.mapping(z)
        assert torch.allclose(half, g(ws=center + 0.5 * (w - center), noise_mode="zero"), rtol=0, atol=1e-6)


def test_bad_inputs_are_refused() -> None:
    g = small_generator(8)
    z = torch.randn(2, g.style_dim)
    with pytest.raises(ValueError, match="coords must be None"):
        g(z, coords=torch.zeros(2, 2, 8, 8))
    with pytest.raises(ValueError, match="ws must be"):
        g(ws=torch.zeros(2, g.num_ws + 1, g.style_dim))
    with pytest.raises(ValueError, match="give latents"):
        g()
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Generator(24)


@pytest.mark.parametrize("impl", ["act", "grouped"])
def test_gradients_reach_every_parameter(impl: str) -> None:
    g = small_generator(16, impl=impl)
    g(torch.randn(3, g.style_dim)).square().mean().backward()
    missing = [n for n, p in g.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("impl", ["act", "grouped"])
def test_modulated_conv_forms_equal_the_per_sample_reference(up: bool, demodulate: bool, impl: str) -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(24, 40, 3, style_dim=16, demodulate=demodulate, up=up, impl=impl)
    x = torch.randn(3, 24, 8, 8)
    w = torch.randn(3, 16)
    s = conv.modulation(w)
    ref = modulated_conv2d_reference(x, conv.weight * conv.scale, s, demodulate=demodulate, up=up)
    out = conv(x, w)
    assert out.shape == ref.shape == (3, 40, 16 if up else 8, 16 if up else 8)
    assert rel_err(out, ref) < 1e-5


def test_modulated_conv_forms_have_equal_gradients() -> None:
    torch.manual_seed(0)
    for up in (False, True):
        conv = ModulatedConv2d(8, 12, 3, style_dim=6, up=up)
        x = torch.randn(2, 8, 6, 6)
        w = torch.randn(2, 6)
        y = torch.randn(2, 12, 12 if up else 6, 12 if up else 6)
        grads = {}
        for impl in ("act", "grouped"):
            conv.impl = impl
            conv.zero_grad()
            xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
            (conv(xi, wi) * y).sum().backward()
            grads[impl] = [xi.grad, wi.grad] + [p.grad.clone() for p in conv.parameters()]
        for a, b in zip(grads["act"], grads["grouped"], strict=True):
            assert rel_err(a, b) < 1e-5


def test_auto_picks_by_shape_on_cpu() -> None:
    small, large = torch.empty(1, 512, 8, 8), torch.empty(1, 128, 256, 256)
    assert choose_modconv_impl("auto", small, 512, up=False) == "act"
    assert choose_modconv_impl("auto", large, 128, up=False) == "grouped"
    assert choose_modconv_impl("grouped", small, 512, up=False) == "grouped"
    # both choices inside one generator give the reference result
    torch.manual_seed(0)
    for shape in ((2, 4, 16, 16), (2, 64, 4, 4)):
        conv = ModulatedConv2d(shape[1], 5, 3, style_dim=8)
        x, w = torch.randn(shape), torch.randn(2, 8)
        ref = modulated_conv2d_reference(x, conv.weight * conv.scale, conv.modulation(w))
        assert rel_err(conv(x, w), ref) < 1e-5


def upfirdn_reference(x: torch.Tensor, up: int, down: int, pad: tuple[int, int], gain: float) -> torch.Tensor:
    """Zero insertion, zero padding, 2-D correlation with the (symmetric) filter, subsampling."""
    b, c, h, w = x.shape
    z = torch.zeros(b, c, h * up, w * up, dtype=x.dtype)
    z[:, :, ::up, ::up] = x
    z = F.pad(z, (pad[0], pad[1], pad[0], pad[1]))
    k = (fir_kernel() * gain).to(x.dtype)
    y = F.conv2d(z.reshape(b * c, 1, *z.shape[2:]), k[None, None])
    y = y.reshape(b, c, *y.shape[2:])
    return y[:, :, ::down, ::down]


def test_fir_resampling_matches_upfirdn() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    k = fir_kernel()
    assert torch.allclose(k.sum(), torch.tensor(1.0))
    assert torch.allclose(upsample2d(x, k), upfirdn_reference(x, 2, 1, (2, 1), 4.0))
    assert torch.allclose(downsample2d(x, k), upfirdn_reference(x, 1, 2, (1, 1), 1.0))
    assert torch.allclose(blur2d(x, k, padding=2), upfirdn_reference(x, 1, 1, (2, 2), 1.0))
    flat = torch.ones(1, 1, 8, 8)
    assert torch.allclose(upsample2d(flat, k)[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))


def test_macs_per_image_count_the_per_pixel_products_by_hand() -> None:
    from cips.config import ModelConfig
    from cips.models.summary import build_on_meta, macs_per_image

    cfg = ModelConfig(size=256, width=16, depth=3, style_dim=16, n_mlp=1, skips=False)
    # per pixel: Fourier features 2 -> 16, the two styled layers 32 -> 16 -> 16 and to-RGB 16 -> 3 (depth 3)
    per_pixel = 2 * 16 + 32 * 16 + 16 * 16 + 16 * 3
    macs = macs_per_image(build_on_meta(cfg), cfg.style_dim)
    assert per_pixel * 256 * 256 <= macs <= 1.01 * per_pixel * 256 * 256
