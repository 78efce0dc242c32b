"""prepare: sources to LMDBs; determinism, atomicity, skipped files, errors, the stage and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
import yaml
from fixtures.synthetic import write_image_folder, write_lsun_lmdb, write_official_lmdb
from PIL import Image
from typer.testing import CliRunner

from cips.config import ConfigError, DatasetConfig, from_dict
from cips.data import codec
from cips.data.dataset import ImageLMDBDataset
from cips.data.errors import DataError
from cips.data.lmdb_io import content_hash, read_length, read_manifest
from cips.data.prepare import prepare_dataset
from cips.scale import project_layout

ROOT = Path(__file__).resolve().parents[1]


def _cfg(source: dict, **kw) -> DatasetConfig:
    return from_dict(DatasetConfig, {"source": source, **kw}, "datasets.t")


def _folder_with_corrupt(tmp_path: Path, n: int = 12) -> Path:
    folder = tmp_path / "src"
    write_image_folder(folder / "a", n // 2, (48, 40), seed=1)
    write_image_folder(folder / "b", n - n // 2, 56, ext="png", seed=2)
    (folder / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    good = folder / "b" / "000000.png"
    (folder / "b" / "truncated.png").write_bytes(good.read_bytes()[:200])
    return folder


def _files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_folder_with_corrupt_files_is_prepared_and_skips_them(tmp_path, caplog):
    folder = _folder_with_corrupt(tmp_path)
    cfg = _cfg(
        {"kind": "folder", "path": str(folder), "licence": "test"},
        resolutions=[32, 16],
        crop={"mode": "center"},
        workers=0,
    )
    caplog.set_level("INFO", logger="cips.data")
    result = prepare_dataset("t", cfg, tmp_path / "out", progress=False)
    assert result.source_images == 14 and result.skipped == 2 and result.written == 12
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["16", "32"]
    for res in (16, 32):
        env = tmp_path / "out" / str(res)
        assert sorted(os.listdir(env)) == ["data.mdb"]  # no lock file: reading never changes the files
        assert read_length(env) == 12
        manifest = read_manifest(env)
        assert manifest["count"] == 12 and manifest["resolution"] == res
        assert manifest["source_images"]["skipped"] == 2
        names = " ".join(manifest["source_images"]["skipped_first"])
        assert "a/broken.jpg: unreadable" in names and "b/truncated.png: unreadable" in names
        assert manifest["encoding"] == {"format": "raw", "channels": 3, "shape": [res, res, 3]}
        assert manifest["licence"] == "test" and manifest["seed"] == 0
        assert manifest["content_sha256"] == content_hash(env)
    assert "skipped 2 of 14 source images" in caplog.text and "a/broken.jpg" in caplog.text
    assert "source images/s" in caplog.text


def test_same_params_give_byte_identical_lmdbs_whatever_the_workers(tmp_path):
    folder = tmp_path / "src"
    write_image_folder(folder, 10, (70, 60), seed=3)
    for fmt in ("png", "raw"):
        cfg = _cfg(
            {"kind": "folder", "path": str(folder)},
            resolutions=[24, 12],
            format=fmt,
            crop={"mode": "random", "size": 36, "count": 3},
            rotation="arbitrary",
            seed=5,
        )
        one = prepare_dataset("t", cfg, tmp_path / f"{fmt}1", workers=1, progress=False)
        two = prepare_dataset("t", cfg, tmp_path / f"{fmt}2", workers=2, progress=False)
        assert one.written == 30
        assert _files(tmp_path / f"{fmt}1") == _files(tmp_path / f"{fmt}2")
        assert one.content_sha256 == two.content_sha256
    other = _cfg(
        {"kind": "folder", "path": str(folder)},
        resolutions=[24, 12],
        format="raw",
        crop={"mode": "random", "size": 36, "count": 3},
        rotation="arbitrary",
        seed=6,
    )
    prepare_dataset("t", other, tmp_path / "seed6", workers=1, progress=False)
    assert _files(tmp_path / "seed6") != _files(tmp_path / "raw1")


def test_jpeg_and_png_values_decode(tmp_path):
    folder = tmp_path / "src"
    write_image_folder(folder, 3, 40, seed=4)
    for fmt in ("png", "jpeg"):
        cfg = _cfg(
            {"kind": "folder", "path": str(folder)}, resolutions=[20], format=fmt, quality=80, workers=0
        )
        prepare_dataset("t", cfg, tmp_path / fmt, progress=False)
        ds = ImageLMDBDataset(tmp_path / fmt, uint8=True)
        assert ds.manifest["encoding"]["format"] == fmt
        assert ds[2].shape == (3, 20, 20)
    png = ImageLMDBDataset(tmp_path / "png", uint8=True)[1].numpy()
    jpg = ImageLMDBDataset(tmp_path / "jpeg", uint8=True)[1].numpy()
    assert 0 < np.abs(png.astype(int) - jpg).mean() < 10  # lossy, but the same picture


def test_zip_lsun_and_official_sources_prepare(tmp_path):
    files = write_image_folder(tmp_path / "imgs", 4, 30, seed=5)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as z:
        for f in files:
            z.write(f, f"inner/{f.name}")
    write_lsun_lmdb(tmp_path / "lsun", 5)
    write_official_lmdb(tmp_path / "official", [32], 3, aspect=1.5)
    for kind, path, n in [("zip", "imgs.zip", 4), ("lsun", "lsun", 5), ("official-lmdb", "official/32", 3)]:
        cfg = _cfg({"kind": kind, "path": path}, resolutions=[16], crop={"mode": "center"}, workers=0)
        result = prepare_dataset(kind, cfg, tmp_path / "out" / kind, root=tmp_path, progress=False)
        assert result.written == n
        assert read_manifest(tmp_path / "out" / kind / "16")["source"]["kind"] == kind


def test_interrupted_write_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    folder = tmp_path / "src"
    write_image_folder(folder, 20, 32, seed=6)
    cfg = _cfg({"kind": "folder", "path": str(folder)}, resolutions=[16], workers=0)
    out = tmp_path / "data" / "t" / "lmdb"
    calls = {"n": 0}
    real_encode = codec.encode

    def failing_encode(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C halfway
        return real_encode(*args, **kw)

    monkeypatch.setattr(codec, "encode", failing_encode)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset("t", cfg, out, progress=False)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # the temporary directory is gone too

    # an existing complete LMDB survives a failed rebuild untouched
    monkeypatch.setattr(codec, "encode", real_encode)
    prepare_dataset("t", cfg, out, progress=False)
    before = _files(out)
    calls["n"] = 0
    monkeypatch.setattr(codec, "encode", failing_encode)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset("t", cfg, out, progress=False)
    assert _files(out) == before


def test_killed_prepare_leaves_only_a_hidden_partial_that_the_next_run_removes(tmp_path):
    folder = tmp_path / "src"
    write_image_folder(folder, 300, 32, seed=7)
    out = tmp_path / "data" / "t" / "lmdb"
    script = textwrap.dedent(f"""
        import time
        from cips.config import ConfigError, DatasetConfig, from_dict
        from cips.data import transforms
        from cips.data.prepare import prepare_dataset
        real = transforms.process
        def slow(*a, **k):
            time.sleep(0.01)
            return real(*a, **k)
        transforms.process = slow
        cfg = from_dict(DatasetConfig, {{"source": {{"kind": "folder", "path": {str(folder)!r}}},
                                        "resolutions": [16], "workers": 0}})
        prepare_dataset("t", cfg, {str(out)!r}, progress=False)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            partial = list(out.parent.glob(".lmdb.partial-*/16/data.mdb")) if out.parent.exists() else []
            if partial and partial[0].stat().st_size > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("prepare did not start writing")
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    (leftover,) = out.parent.glob(".lmdb.partial-*")
    env = lmdb.open(str(leftover / "16"), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"length") is None  # length is written last: an incomplete LMDB says so
    env.close()
    with pytest.raises(DataError, match="no 'length' key"):
        read_length(leftover / "16")
    cfg = _cfg({"kind": "folder", "path": str(folder)}, resolutions=[16], workers=0)
    prepare_dataset("t", cfg, out, progress=False)
    assert read_length(out / "16") == 300
    assert [p.name for p in out.parent.iterdir()] == ["lmdb"]


def test_empty_and_unreadable_sources_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = _cfg({"kind": "folder", "path": str(tmp_path / "empty")}, workers=0)
    with pytest.raises(DataError, match=r"empty: no images found \(jpg, jpeg, png, webp, any case\)"):
        prepare_dataset("t", cfg, tmp_path / "out", progress=False)
    (tmp_path / "bad").mkdir()
    for i in range(3):
        (tmp_path / "bad" / f"{i}.png").write_bytes(b"nope")
    cfg = _cfg({"kind": "folder", "path": str(tmp_path / "bad")}, workers=0)
    with pytest.raises(DataError) as err:
        prepare_dataset("t", cfg, tmp_path / "out", progress=False)
    assert "none of the 3 source images could be used (first: 0.png: unreadable" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_images_too_small_for_the_crop_are_skipped(tmp_path):
    write_image_folder(tmp_path / "src" / "big", 2, 64, seed=8)
    write_image_folder(tmp_path / "src" / "small", 1, 20, seed=9)
    cfg = _cfg(
        {"kind": "folder", "path": str(tmp_path / "src")},
        resolutions=[16],
        crop={"mode": "random", "size": 32, "count": 2},
        workers=0,
    )
    result = prepare_dataset("t", cfg, tmp_path / "out", progress=False)
    assert (result.written, result.skipped) == (4, 1)
    assert (
        "smaller than the 32-pixel crop"
        in read_manifest(tmp_path / "out" / "16")["source_images"]["skipped_first"][0]
    )


def _params_file(tmp_path: Path, datasets: dict) -> Path:
    params = {"scale": "test", "model": {}, "train": {}, "eval": {}, "datasets": datasets, "runs": {}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _stage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stages.prepare", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_stage_writes_data_dataset_lmdb_and_errors_are_one_line(tmp_path):
    write_image_folder(tmp_path / "data" / "sources" / "mini", 6, 40, seed=10)
    _params_file(
        tmp_path,
        {
            "mini": {
                "source": {"kind": "folder", "path": "data/sources/mini"},
                "resolutions": [16, 8],
                "crop": {"mode": "center"},
                "workers": 1,
            },
            "absent": {
                "source": {
                    "kind": "folder",
                    "path": "data/sources/ffhq",
                    "published": "https://github.com/NVlabs/ffhq-dataset",
                }
            },
        },
    )
    layout = project_layout(tmp_path)  # the test scale's folders
    done = _stage(tmp_path, "mini")
    assert done.returncode == 0, done.stderr
    assert "source images/s" in done.stderr
    assert read_length(layout.lmdb("mini", 16)) == 6
    assert read_length(layout.lmdb("mini", 8)) == 6

    missing = _stage(tmp_path, "absent")
    assert missing.returncode == 2
    lines = [ln for ln in missing.stderr.splitlines() if ln.strip()]
    assert lines[-1] == (
        "error: datasets.absent.source.path: data/sources/ffhq does not exist; "
        "it is published at https://github.com/NVlabs/ffhq-dataset"
    )
    assert not layout.data("absent").exists()

    unknown = _stage(tmp_path, "nope")
    assert (
        unknown.returncode == 2 and "datasets.nope: no such dataset (known: absent, mini)" in unknown.stderr
    )

    _params_file(
        tmp_path,
        {"mini": {"source": {"kind": "folder", "path": "data/sources/mini"}, "resolutions": [16, -8]}},
    )
    bad = _stage(tmp_path, "mini")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        == "error: params.yaml: datasets.mini.resolutions[1]: -8 is not a positive number of pixels"
    )
    assert read_length(layout.lmdb("mini", 16)) == 6  # the earlier output is intact


def test_cli_prepare_and_data_info(tmp_path, monkeypatch):
    from cips.cli import app

    write_image_folder(tmp_path / "imgs", 3, 24, seed=11)
    params = _params_file(
        tmp_path,
        {
            "mini": {
                "source": {"kind": "folder", "path": "imgs", "licence": "CC0"},
                "resolutions": [8],
                "workers": 0,
            }
        },
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["prepare", "mini", "--params", str(params), "--out", "built"])
    assert done.exit_code == 0, done.output
    info = runner.invoke(app, ["data", "info", "built", "--verify"])
    assert info.exit_code == 0, info.output
    assert "built/8: 3 images" in info.output and '"licence": "CC0"' in info.output
    assert "matches the manifest" in info.output

    write_official_lmdb(tmp_path / "official", [16, 32], 2)
    info = runner.invoke(app, ["data", "info", "official"])
    assert info.exit_code == 0, info.output
    assert "official/16: 2 images" in info.output and "official/32: 2 images" in info.output
    assert "no manifest: an LMDB in the official CIPS layout" in info.output

    missing = runner.invoke(app, ["data", "info", "nowhere"])
    assert missing.exit_code == 2


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").exists(), reason="dataset-fashion-mnist absent"
)
def test_demo_fashion_and_photos_entries_prepare(tmp_path):
    entries = yaml.safe_load((ROOT / "params.yaml").read_text())["datasets"]
    tiny = yaml.safe_load((ROOT / "configs" / "test.yaml").read_text())["datasets"]["fashion"]
    fashion = from_dict(DatasetConfig, {**tiny, "workers": 0}, "datasets.fashion")
    result = prepare_dataset("fashion", fashion, tmp_path / "fashion", progress=False)
    assert result.written == 64
    ds = ImageLMDBDataset(tmp_path / "fashion")
    x = ds[0]
    assert x.shape == (3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert torch_equal_channels(x)

    photos_entry = dict(entries["photos"])
    photos_entry["crop"] = {**photos_entry["crop"], "count": 2}
    photos_entry["source"] = {**photos_entry["source"], "limit": 3}
    photos = from_dict(DatasetConfig, photos_entry, "datasets.photos")
    result = prepare_dataset("photos", photos, tmp_path / "photos", workers=1, progress=False)
    assert result.written == 6
    manifest = read_manifest(tmp_path / "photos" / "32")
    assert set(manifest["source"]["images"]) == {"astronaut.png", "brick.png", "camera.png"}
    assert all(
        ("CC0" in v["licence"] or "public domain" in v["licence"])
        for v in manifest["source"]["images"].values()
    )


def torch_equal_channels(x) -> bool:
    return bool((x[0] == x[1]).all() and (x[1] == x[2]).all())


def test_raw_values_are_the_pixels(tmp_path):
    arr = np.random.default_rng(12).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    (tmp_path / "src").mkdir()
    Image.fromarray(arr).save(tmp_path / "src" / "x.png")
    cfg = _cfg({"kind": "folder", "path": str(tmp_path / "src")}, resolutions=[20], workers=0)
    prepare_dataset("t", cfg, tmp_path / "out", progress=False)
    ds = ImageLMDBDataset(tmp_path / "out", uint8=True)
    np.testing.assert_array_equal(ds.read(0), arr)
    np.testing.assert_array_equal(ds[0].numpy(), arr.transpose(2, 0, 1))


def test_jpeg_draft_decodes_jpegs_smaller_and_keeps_the_picture(tmp_path):
    from cips.data.sources import FolderSource

    write_image_folder(tmp_path / "src", 3, 128, seed=13)
    write_image_folder(tmp_path / "src" / "png", 1, 128, ext="png", seed=14)
    src = FolderSource(tmp_path / "src")
    assert src.load(1, draft=32).size == (32, 32)  # libjpeg scaled the decode by 1/4
    assert src.load(1, draft=40).size == (64, 64)  # never below the requested side
    assert src.load(0).size == (128, 128)
    assert src.load(3, draft=32).size == (128, 128)  # PNG: no reduced decode
    full = _cfg({"kind": "folder", "path": str(tmp_path / "src")}, resolutions=[32], workers=0)
    draft = _cfg(
        {"kind": "folder", "path": str(tmp_path / "src")}, resolutions=[32], jpeg_draft=1.0, workers=0
    )
    prepare_dataset("t", full, tmp_path / "full", progress=False)
    prepare_dataset("t", draft, tmp_path / "draft", progress=False)
    a = ImageLMDBDataset(tmp_path / "full", uint8=True)
    b = ImageLMDBDataset(tmp_path / "draft", uint8=True)
    assert not torch_equal(a[0], b[0])
    assert (a[0].float() - b[0].float()).abs().mean() < 4  # same picture, another downsampling
    assert torch_equal(a[3], b[3])
    assert read_manifest(tmp_path / "draft" / "32")["params"]["jpeg_draft"] == 1.0
    with pytest.raises(ConfigError, match="jpeg_draft: needs crop.size and pad_to null"):
        _cfg({"kind": "folder", "path": "x"}, jpeg_draft=2.0, crop={"mode": "random", "size": 64})


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_per_load_crops_keep_the_aspect_and_draw_a_new_square_at_every_load(tmp_path, monkeypatch):
    from cips.training.data import RealImages

    folder = tmp_path / "src"
    write_image_folder(folder, 1, (70, 50), seed=3)
    cfg = _cfg({"kind": "folder", "path": str(folder)}, resolutions=[16], format="png", crop={"mode": "per-load"})
    prepare_dataset("t", cfg, tmp_path / "out", workers=1, progress=False)
    whole = ImageLMDBDataset(tmp_path / "out", resolution=16, uint8=True, square=False)[0]
    assert tuple(whole.shape) == (3, 16, 22)  # 70 x 50 -> 22 x 16: the shorter side 16, the aspect kept
    reals = RealImages(tmp_path / "out", 16, 8, seed=0, flip=False)
    batches = [next(reals) for _ in range(2)]  # one image, so every sample is a square of it
    windows = [((whole[:, :, x: x + 16].float() / 127.5 - 1.0), x) for x in range(22 - 16 + 1)]
    found = set()
    for batch in batches:
        assert batch.shape == (8, 3, 16, 16)
        for square in batch:
            found |= {x for w, x in windows if torch.equal(w, square)}
    assert len(found) >= 3  # new squares at every load, each a window of the whole image
    again = RealImages(tmp_path / "out", 16, 8, seed=0, flip=False)
    assert torch.equal(next(again), batches[0])  # seeded by (seed, step): a resumed run sees the same squares
    monkeypatch.setattr("cips.training.data.IN_MEMORY_BYTES", 0)  # a dataset too large for memory: a DataLoader
    streamed = RealImages(tmp_path / "out", 16, 8, seed=0, flip=False)
    assert streamed.memory is None and torch.equal(next(streamed), batches[0])
    with pytest.raises(ConfigError, match="per-load keeps each image's aspect"):
        _cfg({"kind": "folder", "path": str(folder)}, resolutions=[16], format="raw", crop={"mode": "per-load"})
