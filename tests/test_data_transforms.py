"""Crop and rotation geometry, padding, resizing, colour modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fixtures.synthetic import random_image
from PIL import Image

from cips.config import DatasetConfig, SourceConfig, from_dict
from cips.data import transforms as T


def _cfg(**kw) -> DatasetConfig:
    return from_dict(DatasetConfig, {"source": {"kind": "folder", "path": "x"}, **kw}, "datasets.t")


def test_arbitrary_rotation_never_shows_a_border():
    # a constant image: any pixel pulled from outside (filled with 0) or blended with the edge shows
    for w, h, size in [(300, 300, 256), (300, 300, 200), (120, 90, 40), (512, 400, 128), (64, 64, 60)]:
        image = Image.new("RGB", (w, h), (200, 150, 100))
        cfg = _cfg(crop={"mode": "random", "size": size, "count": 40}, rotation="arbitrary")
        crops = T.plan_crops(w, h, cfg, np.random.default_rng(w + size))
        assert len(crops) == 40
        for crop in crops:
            corners = crop.corners()
            # resampled crops keep the kernel's reach from the edge; exact ones may touch it
            m = (0.0 if crop.quarter_turns is not None else T.ROTATION_MARGIN) - 1e-9
            assert corners[:, 0].min() >= m and corners[:, 0].max() <= w - m, crop
            assert corners[:, 1].min() >= m and corners[:, 1].max() <= h - m, crop
            out = np.asarray(T.apply_crop(image, crop)).astype(int)
            assert out.shape == (size, size, 3)
            assert np.abs(out - [200, 150, 100]).max() <= 1, crop


def test_arbitrary_rotation_covers_all_angles_when_the_crop_fits_diagonally():
    cfg = _cfg(crop={"mode": "random", "size": 40, "count": 400}, rotation="arbitrary")
    angles = np.array([c.angle for c in T.plan_crops(120, 100, cfg, np.random.default_rng(0))])
    assert angles.min() >= 0 and angles.max() < 360
    assert np.histogram(angles, bins=8, range=(0, 360))[0].min() > 20  # spread over the circle


def test_arbitrary_rotation_restricted_to_fitting_angles():
    # 256 of 300 (the Satellite-Buildings setting): right angles plus a jitter of at most ~9.8 degrees
    jitter = T.max_rotation_jitter(256, 300)
    assert 9.0 < jitter < 10.5
    cfg = _cfg(crop={"mode": "random", "size": 256, "count": 200}, rotation="arbitrary")
    angles = np.array([c.angle for c in T.plan_crops(300, 300, cfg, np.random.default_rng(1))])
    offset = (angles + 45) % 90 - 45
    assert np.abs(offset).max() <= jitter + 1e-9
    assert np.abs(offset).max() > jitter / 2  # not degenerate
    assert set(np.round((angles - offset) / 90).astype(int) % 4) == {0, 1, 2, 3}
    assert T.max_rotation_jitter(298, 300) == 0.0 and T.max_rotation_jitter(100, 300) is None


def test_right_angle_rotations_are_exact():
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    image = Image.fromarray(arr)
    cfg = _cfg(crop={"mode": "random", "size": 21, "count": 64}, rotation="right-angles")
    turns_seen = set()
    for crop in T.plan_crops(53, 37, cfg, np.random.default_rng(4)):
        k = crop.quarter_turns
        turns_seen.add(k)
        left, top = int(crop.cx - 10.5), int(crop.cy - 10.5)
        expected = np.rot90(arr[top : top + 21, left : left + 21], k=k)  # counter-clockwise, like the crop
        np.testing.assert_array_equal(np.asarray(T.apply_crop(image, crop)), expected)
    assert turns_seen == {0, 1, 2, 3}


def test_center_crop_and_whole_image():
    arr = np.arange(7 * 5 * 3, dtype=np.uint8).reshape(5, 7, 3)
    image = Image.fromarray(arr)
    (crop,) = T.plan_crops(7, 5, _cfg(crop={"mode": "center"}), np.random.default_rng(0))
    np.testing.assert_array_equal(np.asarray(T.apply_crop(image, crop)), arr[:, 1:6])
    (crop,) = T.plan_crops(7, 5, _cfg(crop={"mode": "center", "size": 3}), np.random.default_rng(0))
    np.testing.assert_array_equal(np.asarray(T.apply_crop(image, crop)), arr[1:4, 2:5])
    with pytest.raises(T.SkipImage, match="not square"):
        T.plan_crops(7, 5, _cfg(crop={"mode": "none"}), np.random.default_rng(0))
    with pytest.raises(T.SkipImage, match="smaller than the 6-pixel crop"):
        T.plan_crops(7, 5, _cfg(crop={"mode": "random", "size": 6}), np.random.default_rng(0))


def test_pad_centres_on_black_and_resize():
    grey = Image.fromarray(np.full((28, 28), 255, np.uint8), "L")
    padded = np.asarray(T.pad_to(grey, 32))
    assert padded.shape == (32, 32)
    assert padded[2:30, 2:30].min() == 255 and padded.sum() == 255 * 28 * 28
    big = Image.new("L", (40, 30))
    assert T.pad_to(big, 32).size == (40, 32)
    image = random_image(np.random.default_rng(0), 64)
    assert T.resize(image, 64) is image  # no resampling when the size is right
    assert T.resize(image, 16, "lanczos").size == (16, 16)


def test_process_pads_fashion_style_without_resampling():
    rng = np.random.default_rng(5)
    arr = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    cfg = _cfg(pad_to=32, resolutions=[32, 16])
    (per_res,) = T.process(Image.fromarray(arr, "L"), cfg, np.random.default_rng(0))
    out32 = np.asarray(per_res[0])
    assert out32.shape == (32, 32, 3)
    for c in range(3):  # grey replicated to RGB, pixels untouched
        np.testing.assert_array_equal(out32[2:30, 2:30, c], arr)
    assert per_res[1].size == (16, 16)


def test_colour_modes():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    np.testing.assert_array_equal(np.asarray(T.to_mode(rgba)), np.zeros((4, 4, 3), np.uint8))
    deep = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert np.asarray(T.to_mode(deep, grayscale_to_rgb=False)).max() == 255
    assert T.to_mode(Image.new("RGB", (2, 2)), grayscale_to_rgb=False).mode == "L"


def test_same_seed_same_crops_different_seed_different_crops():
    cfg = _cfg(crop={"mode": "random", "size": 30, "count": 5}, rotation="arbitrary")
    a = T.plan_crops(100, 80, cfg, np.random.default_rng([0, 7]))
    b = T.plan_crops(100, 80, cfg, np.random.default_rng([0, 7]))
    c = T.plan_crops(100, 80, cfg, np.random.default_rng([1, 7]))
    assert a == b and a != c
    assert all(math.isfinite(x.angle) for x in a)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resolutions": [0]}, "datasets.t.resolutions[0]: 0 is not a positive number of pixels"),
        ({"resolutions": [32, "64"]}, "datasets.t.resolutions[1]: expected an integer, got '64'"),
        ({"resolutions": []}, "datasets.t.resolutions: needs at least one output resolution"),
        ({"resolutions": [32, 32]}, "datasets.t.resolutions: [32, 32] lists a resolution twice"),
        ({"rotation": "arbitrary"}, "datasets.t.crop.size: rotation 'arbitrary' needs a crop"),
        ({"rotation": "sideways"}, "datasets.t.rotation: 'sideways' is not one of"),
        (
            {"crop": {"mode": "center", "count": 3}},
            "datasets.t.crop.count: 3 crops per image need mode 'random'",
        ),
        ({"crop": {"mode": "random", "size": -4}}, "datasets.t.crop.size: must be a positive number"),
        ({"crop": {"size": 64}}, "datasets.t.crop.size: a crop size needs mode 'center' or 'random'"),
        ({"quality": 0}, "datasets.t.quality: 0 is not a JPEG quality in 1..100"),
        ({"pad_to": 0}, "datasets.t.pad_to: must be a positive number of pixels"),
        ({"format": "tiff"}, "datasets.t.format: 'tiff' is not one of"),
        ({"flip": True}, "datasets.t.flip: unknown key"),
        ({"source": {"kind": "folder"}}, "datasets.t.source.path: required for a source of kind 'folder'"),
        ({"source": {"kind": "skimage"}}, "datasets.t.source.images: a source of kind 'skimage' needs"),
        (
            {"source": {"kind": "zip", "path": "a.zip", "limit": 0}},
            "datasets.t.source.limit: must be at least 1",
        ),
    ],
)
def test_bad_params_give_one_line_naming_the_key(data, message):
    from cips.config import ConfigError

    with pytest.raises(ConfigError) as err:
        from_dict(DatasetConfig, {"source": {"kind": "folder", "path": "x"}, **data}, "datasets.t")
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(message), str(err.value)


def test_source_defaults_are_valid():
    assert from_dict(SourceConfig, {"kind": "fashion-mnist"}).path == ""
