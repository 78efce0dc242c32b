"""Latent interpolation (Fig. 10) and layer-wise style mixing (Fig. 19)."""

from __future__ import annotations

import pytest
import torch

from cips.beyond.interpolation import interpolate, slerp, step_changes
from cips.beyond.mixing import layer_groups, mix, style_mixing
from cips.beyond.render import latents, render, styles
from cips.models.cips import CIPSGenerator


def make() -> CIPSGenerator:
    torch.manual_seed(0)
    return CIPSGenerator(size=16, width=16, depth=5, style_dim=16, n_mlp=2).eval()


@pytest.mark.parametrize("mode", ["w", "slerp-z"])
def test_rows_run_from_one_seed_to_the_next(mode):
    g = make()
    frames = interpolate(g, [4, 7, 9], steps=5, mode=mode)
    assert frames.shape == (2, 5, 3, 16, 16)
    ends = render(g, styles(g, latents([4, 7, 9], 16)))
    torch.testing.assert_close(frames[0, 0], ends[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(frames[0, -1], ends[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(frames[1, 0], ends[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(frames[1, -1], ends[2], atol=1e-5, rtol=0)
    assert step_changes(frames).shape == (2, 4) and (step_changes(frames) > 0).all()


def test_w_interpolation_is_linear_in_w():
    g = make()
    z = latents([4, 7], 16)
    w = g.mapping(z)
    mid = render(g, g.expand_ws(ws=w.mean(0, keepdim=True)))
    frames = interpolate(g, [4, 7], steps=3, mode="w")
    torch.testing.assert_close(frames[0, 1], mid[0], atol=1e-5, rtol=0)


def test_slerp_keeps_the_norm_and_ends():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    out = slerp(a, b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(out[0], a) and torch.testing.assert_close(out[-1], b)
    with pytest.raises(ValueError, match="two seeds"):
        interpolate(make(), [1])


def test_layer_groups_cover_every_layer_in_order():
    for n in (3, 5, 9, 15):
        groups = layer_groups(n)
        assert groups[0][0] == 0 and groups[-1][1] == n - 1 and len(groups) == 3
        assert all(b[0] == a[1] + 1 for a, b in zip(groups, groups[1:], strict=False))
    with pytest.raises(ValueError):
        layer_groups(2)


def test_mixing_takes_b_only_at_the_chosen_layers():
    g = make()
    wa, wb = styles(g, latents([0], 16)), styles(g, latents([1], 16))
    m = mix(wa, wb, 1, 2)
    torch.testing.assert_close(m[:, 1:3], wb[:, 1:3])
    torch.testing.assert_close(m[:, [0, 3, 4]], wa[:, [0, 3, 4]])
    images, groups = style_mixing(g, [0], [1])
    assert images.shape == (1, 5, 3, 16, 16) and groups == layer_groups(g.num_ws)
    plain = render(g, torch.cat([wa, wb]))
    torch.testing.assert_close(images[0, 0], plain[0]) and torch.testing.assert_close(images[0, 1], plain[1])
    late = render(g, mix(wa, wb, *groups[-1]))
    torch.testing.assert_close(images[0, 2], late[0])  # the paper's order: late layers first
    for j in range(2, 5):
        assert not torch.equal(images[0, j], plain[0]) and not torch.equal(images[0, j], plain[1])
