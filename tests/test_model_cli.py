"""`cips info params`, `cips sample`: Table 4 and rendering from checkpoints."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cips.cli import app
from cips.config import ModelConfig, to_dict
from cips.models import build_generator
from cips.models.checkpoint import FORMAT, save_atomic
from cips.models.cli import parse_seeds
from cips.sampling import latents_for_seeds

runner = CliRunner()


def test_table4_matches_the_paper():
    result = runner.invoke(app, ["info", "params", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(result.output)}
    official = rows.pop("cips-official-widths")  # the official code's narrowed widths, not in the paper
    assert official["params"] == 44_317_092 and official["published_m"] is None
    assert {k: r["params"] for k, r in rows.items()} == {
        "cips-base": 43_800_593, "cips-ne": 10_246_161, "cips-default": 45_911_076, "stylegan2": 30_034_338}
    for r in rows.values():
        assert r["matches"] and abs(r["params"] / 1e6 - r["published_m"]) <= 0.1
    table = runner.invoke(app, ["info", "params"])
    assert table.exit_code == 0 and "CIPS-NE" in table.output and "mismatch" not in table.output


def _checkpoint(tmp_path, **model):
    cfg = ModelConfig(**{"size": 16, "width": 16, "depth": 4, "style_dim": 16, "n_mlp": 2, **model})
    torch.manual_seed(0)
    g = build_generator(cfg)
    path = tmp_path / "ckpt.pt"
    save_atomic({"format": FORMAT, "model": to_dict(cfg), "g_ema": g.state_dict()}, path)
    return path, g


def test_seeds_give_fixed_latents():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    z = latents_for_seeds([5, 1], 8)
    assert torch.equal(z[0], latents_for_seeds([5], 8)[0])  # a seed's z does not depend on the others


def test_sample_writes_pngs_grid_and_raw_arrays(tmp_path):
    ckpt, g = _checkpoint(tmp_path)
    out = tmp_path / "png"
    res = runner.invoke(app, ["sample", str(ckpt), "--seeds", "0-3", "--noise", "zero", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "0002.png", "0003.png", "grid.png"]
    assert Image.open(out / "0002.png").size == (16, 16)
    res = runner.invoke(app, ["sample", str(ckpt), "--seeds", "0-3", "--noise", "zero",
                              "--out", str(tmp_path / "z.npy")])
    assert res.exit_code == 0, res.output
    raw = np.load(tmp_path / "z.npy")
    with torch.no_grad():
        expected = g(latents_for_seeds([0, 1, 2, 3], 16), noise_mode="zero").numpy()
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-5)
    # a denser grid renders the same model at 4x the side, in chunks
    res = runner.invoke(app, ["sample", str(ckpt), "--seeds", "0", "--size", "64", "--chunk", "1000",
                              "--out", str(tmp_path / "big.npy")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "big.npy").shape == (1, 3, 64, 64)


def test_sample_latents_file_and_bad_input(tmp_path):
    ckpt, _ = _checkpoint(tmp_path)
    np.save(tmp_path / "z.npy", np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32))
    res = runner.invoke(app, ["sample", str(ckpt), "--latents", str(tmp_path / "z.npy"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0 and len(list((tmp_path / "o").glob("*.png"))) == 4
    np.save(tmp_path / "bad.npy", np.zeros((3, 5), dtype=np.float32))
    res = runner.invoke(app, ["sample", str(ckpt), "--latents", str(tmp_path / "bad.npy"),
                              "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "expected N x 16" in res.output
    res = runner.invoke(app, ["sample", str(ckpt), "--panorama", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "not a cylindrical" in res.output


@pytest.mark.parametrize("size", [16, 32])
def test_sample_panorama_of_a_cylindrical_model(tmp_path, size):
    ckpt, _ = _checkpoint(tmp_path, coords="cylindrical", panorama_width=48)
    res = runner.invoke(app, ["sample", str(ckpt), "--seeds", "0", "--panorama", "--size", str(size),
                              "--out", str(tmp_path / "p.npy")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "p.npy").shape == (1, 3, size, 48 * size // 16)


def _sample(ckpt, out, *args: str) -> np.ndarray:
    res = runner.invoke(app, ["sample", str(ckpt), "--noise", "zero", "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    return np.load(out)


def test_sample_denser_grid_equals_the_training_grid_at_the_shared_nodes(tmp_path):
    # the training grid is linspace(-1, 1, 16); a grid of 31 holds its nodes at every second point and
    # renders the points between them (bilinearly embedded) anew
    ckpt, _ = _checkpoint(tmp_path)
    small = _sample(ckpt, tmp_path / "s.npy", "--seeds", "0-2")
    dense = _sample(ckpt, tmp_path / "d.npy", "--seeds", "0-2", "--size", "31", "--chunk", "100")
    assert dense.shape == (3, 3, 31, 31)
    np.testing.assert_allclose(dense[:, :, ::2, ::2], small, rtol=1e-5, atol=1e-5)
    between = dense[:, :, 1::2, 1::2]
    assert np.abs(between - small[:, :, :-1, :-1]).max() > 1e-3  # new pixels, not copies of the nodes


def test_sample_truncation_moves_styles_toward_the_mean(tmp_path):
    ckpt, g = _checkpoint(tmp_path)
    z = latents_for_seeds([0, 1, 2], 16)
    half = _sample(ckpt, tmp_path / "h.npy", "--seeds", "0-2", "--truncation", "0.5")
    with torch.no_grad():
        center = g.mean_w()
        ws = center + 0.5 * (g.mapping(z) - center)  # psi = 0.5 by hand
        expected = g(ws=ws, noise_mode="zero").numpy()
    np.testing.assert_allclose(half, expected, rtol=1e-5, atol=1e-5)
    plain = _sample(ckpt, tmp_path / "p.npy", "--seeds", "0-2")
    assert np.abs(half - plain).max() > 1e-3
    zero = _sample(ckpt, tmp_path / "z.npy", "--seeds", "0-2", "--truncation", "0")
    np.testing.assert_allclose(zero[1:], np.broadcast_to(zero[0], zero[1:].shape), rtol=1e-5, atol=1e-6)
