"""Spectra: flat for white noise, a peak at a sinusoid's radius, a deficit after 2x upsampling."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cips.analysis.spectrum import (
    SpectrumParams,
    azimuthal_profile,
    caption,
    load_spectra,
    log_magnitude,
    ring_index,
    save_spectra,
    spectrum_of,
)

RAW = SpectrumParams(normalise="none")


def _noise(n, size, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(128, 30, size=(n, size, size)))


def test_white_noise_has_a_flat_profile():
    result = spectrum_of([_noise(64, 64)], RAW, progress=False)
    prof = result.profile[1:32]  # every ring but DC
    assert prof.std() / prof.mean() < 0.01
    assert result.mean_spectrum.shape == (64, 64) and len(result.profile) == 33


def test_a_sinusoid_peaks_at_its_radius():
    size, k = 64, 10
    y, x = np.mgrid[:size, :size]
    for fy, fx in ((0, k), (6, 8)):  # radius 10 both times
        img = 128 + 100 * np.sin(2 * np.pi * (fx * x + fy * y) / size)
        result = spectrum_of([torch.from_numpy(img)[None]], RAW, progress=False)
        assert int(np.argmax(result.profile[1:])) + 1 == k
        spec = result.mean_spectrum.copy()
        spec[size // 2, size // 2] = -np.inf  # the DC term (the image mean) aside, the peak is the sinusoid's
        peak = np.unravel_index(np.argmax(spec), spec.shape)
        assert peak in {(size // 2 + fy, size // 2 + fx), (size // 2 - fy, size // 2 - fx)}


def test_upsampled_images_lack_high_frequencies():
    native = _noise(32, 64, seed=1)
    low = _noise(32, 32, seed=2)
    up = torch.nn.functional.interpolate(low[:, None], scale_factor=2, mode="bilinear", align_corners=False)[
        :, 0
    ]
    a = spectrum_of([native], RAW, progress=False).profile
    b = spectrum_of([up], RAW, progress=False).profile
    high = slice(20, 33)  # beyond half the Nyquist radius (16) of the 64px grid
    deficit_high = (a[high] - b[high]).mean()
    deficit_low = (a[2:8] - b[2:8]).mean()
    assert deficit_high > 20  # in 20 ln|F| units: |F| more than e times smaller
    assert deficit_high > deficit_low + 15


def test_durall_defaults_normalise_by_the_dc_bin_and_are_captioned():
    p = SpectrumParams()
    prof = azimuthal_profile(log_magnitude(_noise(4, 32)), p)
    assert torch.allclose(prof[:, 0], torch.ones(4, dtype=prof.dtype))
    text = caption(p, 5000)
    for word in ("20 ln(|F| + 1e-08)", "DC term kept", "Nyquist", "divided by its DC bin", "5000", "Durall"):
        assert word in text
    with pytest.raises(ValueError, match="divides by the DC bin"):
        SpectrumParams(dc="exclude")
    excluded = azimuthal_profile(log_magnitude(_noise(2, 16)), SpectrumParams(dc="exclude", normalise="none"))
    assert torch.isnan(excluded[:, 0]).all() and not torch.isnan(excluded[:, 1:]).any()


def test_ring_index_and_radius_range():
    rings, count = ring_index(8, 8)
    assert rings[4, 4] == 0 and rings[4, 7] == 3 and rings[0, 0] == 5 and count == 6
    corner = azimuthal_profile(torch.zeros(1, 8, 8), SpectrumParams(normalise="none", radius="corner"))
    nyquist = azimuthal_profile(torch.zeros(1, 8, 8), SpectrumParams(normalise="none"))
    assert corner.shape == (1, 6) and nyquist.shape == (1, 5)


def test_rgb_uint8_batches_and_file_round_trip(tmp_path):
    imgs = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    r = spectrum_of([imgs[:4], imgs[4:]], progress=False)
    whole = spectrum_of([imgs], progress=False)
    assert (
        r.n == 6
        and np.allclose(r.profile, whole.profile)
        and np.allclose(r.mean_spectrum, whole.mean_spectrum)
    )
    path = save_spectra(tmp_path / "s.npz", {"real": r, "other": whole})
    back = load_spectra(path)
    assert list(back) == ["real", "other"] and np.array_equal(back["real"].profile, r.profile)
    with np.load(path) as z:
        assert "Durall" in str(z["caption"]) and json.loads(str(z["params"]))["log_scale"] == 20.0
    with pytest.raises(ValueError, match="size changed"):
        spectrum_of([imgs, torch.zeros(1, 3, 8, 8, dtype=torch.uint8)], progress=False)


def test_cips_spectrum_command(tmp_path):
    from PIL import Image

    from cips.cli import app

    (tmp_path / "imgs").mkdir()
    for i in range(5):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
            tmp_path / "imgs" / f"{i}.png"
        )
    res = CliRunner().invoke(
        app,
        [
            "spectrum",
            str(tmp_path / "imgs"),
            "--out",
            str(tmp_path / "s.npz"),
            "--plot",
            str(tmp_path / "s.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] == 5
    assert load_spectra(tmp_path / "s.npz")["imgs"].mean_spectrum.shape == (16, 16)
    assert (tmp_path / "s.png").stat().st_size > 1000
    bad = CliRunner().invoke(
        app, ["spectrum", str(tmp_path / "imgs"), "--out", str(tmp_path / "t.npz"), "--dc", "exclude"]
    )
    assert bad.exit_code == 2 and "DC bin" in bad.output


def test_spectra_stage_writes_real_and_every_generator(tmp_path, monkeypatch):
    import yaml
    from fixtures.toy import ToyGenerator, blob_images, write_lmdb

    import cips.models.checkpoint
    from cips.layout import Layout
    from stages import spectra as spectra_stage

    monkeypatch.chdir(tmp_path)
    params = {
        "scale": "test",
        "model": {"size": 16},
        "train": {},
        "eval": {"spectra_n": 4, "batch": 2},
        "datasets": {"toy": {"source": {"kind": "folder", "path": "x"}, "resolutions": [16]}},
        "runs": {"a": {"dataset": "toy"}, "b": {"dataset": "toy", "model": {"embeddings": False}},
                 "a-long": {"dataset": "toy", "train": {"steps": 4321}}},  # a's twin at a longer budget
        "analysis": {"spectra": {"dataset": "toy", "base": "a", "ne": "b"}},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    layout = Layout(tmp_path, params["scale"])
    write_lmdb(layout.lmdb("toy", 16), blob_images(6, 16))
    for run in ("a", "b", "a-long"):  # what the stage reads (load_generator is replaced below)
        layout.run(run).mkdir(parents=True)
        layout.generator(run).write_bytes(b"")
    monkeypatch.setattr(cips.models.checkpoint, "load_generator", lambda *a, **k: ToyGenerator(16).eval())
    assert spectra_stage.main([]) == 0
    out = load_spectra(layout.report_data("spectra.npz"))
    assert list(out) == ["real", "CIPS-base", "CIPS-NE"] and all(r.n == 4 for r in out.values())
    with np.load(layout.report_data("spectra.npz")) as z:  # the claims' data at the longer budget, apart
        longer = [k for k in z.files if k.startswith("budget/")]
        assert sorted(longer) == [f"budget/{4321 * 16}/runs", f"budget/{4321 * 16}/seeds/CIPS-base/profiles"]
        assert json.loads(str(z[f"budget/{4321 * 16}/runs"])) == {"CIPS-base": "a-long"}
    params["analysis"] = {}  # no section (or one reading an absent dataset): the stage records why it skipped
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert spectra_stage.main([]) == 0
    from cips.files import skipped_reason

    assert skipped_reason(layout.report_data("spectra.npz")).startswith("analysis.spectra: none")
