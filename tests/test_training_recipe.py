"""The training recipe against hand computations: lazy R1 with StyleGAN2's Adam correction, the default R1
gamma, and the EMA half-life, inside a real training step."""

from pathlib import Path

import pytest
import torch
import yaml
from test_training import SIZE, trainer  # tests/ is on sys.path (pytest's rootdir import)
from torch import nn

from cips.scale import load_params
from cips.training import loop
from cips.training.ema import ema_beta, update_ema
from cips.training.losses import lazy_adam_correction, r1_penalty

REPO = Path(__file__).resolve().parents[1]


class LinearD(nn.Module):
    """D(x) = <a, x>: its input gradient is `a` for every image, so R1 = ||a||^2 exactly."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(3, size, size, generator=torch.Generator().manual_seed(1)) * 0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.a).flatten(1).sum(1, keepdim=True)


def test_r1_penalty_of_a_linear_discriminator_is_the_squared_weight_norm():
    d = LinearD(4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    assert r1_penalty(d(x), x).item() == pytest.approx(d.a.square().sum().item(), rel=1e-6)


def test_lazy_adam_correction_by_hand():
    lr, (b1, b2) = lazy_adam_correction(0.002, [0.0, 0.99], 16)
    assert lr == pytest.approx(0.002 * 16 / 17, rel=1e-12)
    assert (b1, b2) == (0.0, pytest.approx(0.99 ** (16 / 17), rel=1e-12))
    assert lazy_adam_correction(0.002, [0.5, 0.99], 0) == (0.002, (0.5, 0.99))  # no regulariser: unchanged


def test_default_r1_gamma_and_ema_half_life_of_each_scale():
    demo, paper = load_params(REPO / "configs/demo.yaml"), load_params(REPO / "configs/paper.yaml")
    for params in (demo, paper):
        for name in params.runs:
            run = params.run(name)
            t = run.train
            expected = t.r1_gamma if t.r1_gamma is not None else 0.0002 * run.model.size**2 / t.batch
            assert loop.r1_gamma(run) == pytest.approx(expected, rel=1e-12)
    # README: gamma 10 at paper scale (the official value), the heuristic where the param is null
    assert {loop.r1_gamma(paper.run(n)) for n in paper.runs} == {10.0}
    raw = yaml.safe_load((REPO / "configs/demo.yaml").read_text())
    assert raw["train"]["r1_gamma"] is None
    run = demo.run(next(iter(demo.runs)))
    assert loop.r1_gamma(run) == pytest.approx(0.0002 * 32 * 32 / 8)
    # README: EMA half-life 10 kimg at paper scale, 1 kimg in the demo; R1 every 16 steps in both
    assert (paper.train["ema_halflife_kimg"], demo.train["ema_halflife_kimg"]) == (10.0, 1.0)
    assert paper.train["r1_every"] == demo.train["r1_every"] == 16


def test_ema_halves_its_memory_every_half_life():
    assert ema_beta(8, 1.0, 8) == pytest.approx(0.5 ** (8 / 1000), rel=1e-12)
    ema, model = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        ema.weight.fill_(0.0)
        model.weight.fill_(1.0)
    for _ in range(125):  # 125 steps of batch 8 = one half-life of 1 kimg: the old value keeps half its weight
        update_ema(ema, model, ema_beta(8, 1.0, 8))
    assert ema.weight.item() == pytest.approx(0.5, abs=1e-6)


def test_the_official_ema_decays_per_step_whatever_the_batch():
    official = 0.5 ** (32 / 10_000)  # the official CIPS code's decay per step
    assert ema_beta(32, 10.0, 32, halflife_steps=312.5) == pytest.approx(official, rel=1e-12)
    assert ema_beta(16, 10.0, 16, halflife_steps=312.5) == pytest.approx(official, rel=1e-12)
    assert ema_beta(16, 10.0, 16) == pytest.approx(0.5 ** (16 / 10_000), rel=1e-12)  # ours: 10 kimg at any batch


def test_lazy_r1_step_by_hand(tmp_path, monkeypatch):
    """With a linear D and the logistic loss zeroed, D's gradient is the R1 term alone: on a due step
    gamma / 2 * every * d||a||^2/da = gamma * every * a, with the default gamma; Adam's first step with the
    corrected lr and beta2 then moves every weight by lr' * sign(g) and stores (1 - beta2') g^2."""
    monkeypatch.setattr(loop, "build_discriminator", lambda cfg, size=None: LinearD(size or cfg.size))
    monkeypatch.setattr(loop, "d_logistic", lambda real, fake: 0.0 * (real.sum() + fake.sum()))
    every, batch, lr = 4, 4, 0.002
    t = trainer(tmp_path, r1_every=every, r1_gamma=None, batch=batch, lr=lr, betas=[0.0, 0.99], eps=1e-8)
    gamma = 0.0002 * SIZE**2 / batch
    c = every / (every + 1)
    lr_d, beta2_d = lr * c, 0.99**c
    group = t.d_opt.param_groups[0]
    assert group["lr"] == pytest.approx(lr_d, rel=1e-12) and group["betas"][1] == pytest.approx(beta2_d, rel=1e-12)
    a0 = t.D.a.detach().clone()
    out = t.train_step()  # step 0: R1 is due
    g = t.D.a.grad
    torch.testing.assert_close(g, gamma * every * a0, rtol=1e-5, atol=1e-9)
    assert out["r1"] == pytest.approx(a0.square().sum().item(), rel=1e-5)
    torch.testing.assert_close(t.d_opt.state[t.D.a]["exp_avg_sq"], (1 - beta2_d) * g.square(), rtol=1e-5, atol=0)
    torch.testing.assert_close(t.D.a.detach(), a0 - lr_d * g / (g.abs() + 1e-8), rtol=1e-6, atol=1e-9)
    for step in range(1, every):  # not due: no R1 and (the logistic loss being zero) no gradient
        out = t.train_step()
        assert "r1" not in out and torch.count_nonzero(t.D.a.grad) == 0, step
    assert "r1" in t.train_step()  # due again at step `every`


def test_ema_after_one_training_step_by_hand(tmp_path):
    batch, halflife_kimg = 4, 0.01
    t = trainer(tmp_path, batch=batch, ema_halflife_kimg=halflife_kimg, ema_rampup=None)
    before = {k: v.detach().clone() for k, v in t.G.state_dict().items()}
    t.train_step()
    beta = 0.5 ** (batch / (halflife_kimg * 1000))  # half the weight after halflife_kimg thousand images
    after, ema = t.G.state_dict(), t.G_ema.state_dict()
    moved = 0
    for k, _ in t.G.named_parameters():
        expected = beta * before[k] + (1 - beta) * after[k].detach()
        torch.testing.assert_close(ema[k], expected, rtol=1e-6, atol=1e-7, msg=k)
        moved += not torch.equal(before[k], after[k])
    assert moved > 0
