"""StyleGAN2 residual discriminator: shapes, patch sizes, minibatch stddev, R1 double backward."""

from __future__ import annotations

import pytest
import torch

from cips.config import DiscriminatorConfig, ModelConfig
from cips.models import build_discriminator
from cips.models.discriminator import Discriminator, minibatch_stddev

SMALL = dict(channel_base=128, channel_max=16)


def small_d(size: int = 16, **kw) -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(size, **{**SMALL, **kw})


@pytest.mark.parametrize("size", [4, 8, 16, 32])
@pytest.mark.parametrize("batch", [1, 2, 3, 5, 8])
def test_output_shape(size: int, batch: int) -> None:
    d = small_d(size)
    out = d(torch.randn(batch, 3, size, size))
    assert out.shape == (batch, 1)
    assert torch.isfinite(out).all()


def test_channel_layout_and_count_at_256() -> None:
    with torch.device("meta"):
        d = Discriminator(256)
    assert d.from_rgb.weight.shape[0] == 128
    assert [b.conv1.weight.shape[0] for b in d.blocks] == [256, 512, 512, 512, 512, 512]
    assert sum(p.numel() for p in d.parameters()) == 28_864_129


def test_patch_discriminator_takes_patches_only() -> None:
    cfg = ModelConfig(arch="stylegan2", size=32,
                      discriminator=DiscriminatorConfig(channel_base=128, channel_max=16, mbstd_group=2))
    d = build_discriminator(cfg, 16)
    assert d.size == 16 and d.mbstd_group == 2
    assert d(torch.randn(4, 3, 16, 16)).shape == (4, 1)
    with pytest.raises(ValueError, match=r"\(B, 3, 16, 16\)"):
        d(torch.randn(4, 3, 32, 32))
    assert build_discriminator(cfg).size == 32
    with pytest.raises(ValueError, match="power of two"):
        Discriminator(12)


def mbstd_reference(x: torch.Tensor, group: int) -> torch.Tensor:
    b = x.shape[0]
    g = max(d for d in range(1, min(group, b) + 1) if b % d == 0)
    n = b // g
    stats = []
    for i in range(b):
        members = x[[k for k in range(b) if k % n == i % n]]
        stats.append((members.var(0, unbiased=False) + 1e-8).sqrt().mean())
    s = torch.stack(stats).view(b, 1, 1, 1).expand(b, 1, *x.shape[2:])
    return torch.cat([x, s], 1)


@pytest.mark.parametrize("batch,group,effective", [(8, 4, 4), (6, 4, 3), (5, 4, 1), (1, 4, 1), (12, 8, 6)])
def test_minibatch_stddev_any_batch(batch: int, group: int, effective: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(batch, 5, 4, 4, dtype=torch.float64)
    out = minibatch_stddev(x, group)
    assert out.shape == (batch, 6, 4, 4)
    assert torch.equal(out[:, :5], x)
    assert torch.allclose(out, mbstd_reference(x, group))
    # samples sharing a group share the statistic; there are batch / effective distinct groups
    stats = out[:, 5, 0, 0]
    if effective == 1:  # groups of one sample: zero deviation, sqrt(1e-8) everywhere
        assert torch.allclose(stats, torch.full_like(stats, 1e-4))
    else:
        assert len(torch.unique(stats)) == batch // effective


def test_gradients_reach_every_parameter() -> None:
    d = small_d(16)
    d(torch.randn(4, 3, 16, 16)).sum().backward()
    missing = [n for n, p in d.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_r1_double_backward() -> None:
    d = small_d(16)
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    assert grad.shape == x.shape and grad.abs().sum() > 0
    penalty = grad.square().sum((1, 2, 3)).mean()
    penalty.backward()
    # past the minibatch-stddev layer the network is piecewise linear, so its biases do not move the
    # input gradient; every other parameter does
    after_mbstd = {"conv.bias", "fc.bias", "out.bias"}
    missing = [n for n, p in d.named_parameters()
               if n not in after_mbstd and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing


def test_second_derivatives_are_correct() -> None:
    # finite-difference check of the R1 path in float64 on a tiny discriminator
    d = Discriminator(8, channel_base=16, channel_max=4, mbstd_group=2).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda inp: d(inp), (x,), eps=1e-6, atol=1e-4)
