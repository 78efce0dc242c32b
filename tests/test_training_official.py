"""Where training follows the official CIPS code: patch sampling, G's Adam correction, the separate R1 step."""

import math
from collections import Counter

import pytest
import torch
from test_training import SIZE, layout, make_project

from cips import coords
from cips.config import ConfigError
from cips.scale import load_params
from cips.training import loop


def trainer(root, run: str = "toy-cips", **train_overrides) -> loop.Trainer:
    params = load_params(make_project(root, **train_overrides))
    return loop.Trainer(params.run(run), layout(root).lmdb("toy", SIZE), layout(root).run(run), "test",
                        track=False, progress=False)


def test_multiscale_patches_follow_the_official_sampling():
    """Each step one dilation 2^l with l uniform over 0..log2(size/K); every patch lies inside the image."""
    size, k, n = 32, 8, 600
    g = torch.Generator().manual_seed(0)
    levels, firsts = Counter(), {1: set(), 2: set(), 4: set()}
    for _ in range(n):
        s, u, v = coords.multiscale_patch_offsets(16, size, k, generator=g)
        levels[s] += 1
        assert ((u >= 0) & (v >= 0) & (u + (k - 1) * s <= size - 1) & (v + (k - 1) * s <= size - 1)).all()
        firsts[s].update(u.tolist())
    assert set(levels) == {1, 2, 4}
    for s in levels:  # uniform over the three scales: 200 expected each, 5 sigma is about 58
        assert abs(levels[s] - n / 3) < 60, levels
    # dense crops reach every corner position; strided ones too, both parities of the offset
    assert firsts[1] == set(range(size - k + 1))
    assert firsts[4] == set(range(size - 7 * 4))


def test_real_and_fake_patches_share_coordinates(tmp_path):
    """D sees the real patch at the very coordinates G renders: extract a patch from an image whose
    pixels hold their own coordinates, and it equals the coordinates given to the generator."""
    t = trainer(tmp_path, "toy-patch")
    coord_image = coords.grid(SIZE).expand(t.cfg.train.batch, -1, -1, -1)  # pixel = its (x', y')
    for step in range(12):
        patches = t._patches(torch.Generator().manual_seed(step))
        torch.testing.assert_close(t._real_view(coord_image, patches), t._coords(None, patches), rtol=0, atol=1e-6)


def test_generator_adam_correction_as_the_official_code(tmp_path):
    official = trainer(tmp_path / "a", g_reg_every=4)
    group = official.g_opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * 4 / 5) and group["betas"] == pytest.approx((0.0, 0.99 ** 0.8))
    plain = trainer(tmp_path / "b").g_opt.param_groups[0]
    assert plain["lr"] == 0.002 and plain["betas"] == (0.0, 0.99)


@pytest.mark.parametrize("mode,d_updates", [("fused", 1), ("separate", 2)])
def test_separate_r1_is_an_extra_discriminator_step(tmp_path, mode, d_updates):
    t = trainer(tmp_path, r1_step=mode, r1_every=2)
    t.train_step()  # step 0: R1 due
    steps = {int(s["step"]) for s in t.d_opt.state.values()}
    assert steps == {d_updates}
    t.train_step()  # step 1: no R1
    assert {int(s["step"]) for s in t.d_opt.state.values()} == {d_updates + 1}
    assert math.isfinite(t.train_step()["r1"])


def test_patch_sigma_needs_fixed_sampling(tmp_path):
    with pytest.raises(ConfigError, match="patch_sigma: only used with patch_sampling 'fixed'"):
        load_params(make_project(tmp_path, patch_sigma=2.0))
