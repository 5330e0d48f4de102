"""make-dataset synthesize: determinism across worker counts, resume after SIGKILL, bad inputs,
duplicates, splits, keys, and provenance (the recorded params replay the LQ bytes)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

import degradations
from pipelines.build.plan import BuildOptions
from pipelines.build.resume import ConfigMismatch
from pipelines.cli import cli
from pipelines.common.images import decode_rgb
from pipelines.manifest.schema import read_manifest
from pipelines.synthesize.command import synthesize
from pipelines.synthesize.worker import SynthConfig

REPO = Path(__file__).resolve().parents[3]
TASKS = ("noisy", "jpeg-compressed")


def make_photos(folder: Path, photos: dict[str, np.ndarray], per_photo: int = 3, size: int = 96) -> list[Path]:
    """Distinct small crops of the bundled photos, as PNG and JPEG files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, img in sorted(photos.items()):
        h, w = img.shape[:2]
        for i in range(per_photo):
            y, x = (h - size) * i // max(1, per_photo - 1), (w - size) * (per_photo - 1 - i) // max(1, per_photo - 1)
            crop = np.ascontiguousarray(img[y : y + size, x : x + size])
            ext = "jpg" if i % 2 else "png"
            path = folder / f"{name}_{i}.{ext}"
            Image.fromarray(crop).save(path, quality=95) if ext == "jpg" else Image.fromarray(crop).save(path)
            paths.append(path)
    return paths


def files_bytes(root: Path, skip_stats: bool = True) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not (skip_stats and path.name.endswith("_stats.json")):
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def manifest_json_without_run(path: Path) -> dict:
    record = json.loads(path.read_text())
    record.pop("run")
    return record


def run(root: Path, inputs: Path, workers: int = 1, **kw):
    config = SynthConfig(tasks=kw.pop("tasks", TASKS), variants=kw.pop("variants", 2), seed=kw.pop("seed", 7),
                         shard_size=kw.pop("shard_size", 4), max_side=kw.pop("max_side", 64),
                         val_fraction=kw.pop("val_fraction", 0.3), **{k: kw.pop(k) for k in list(kw)
                                                                       if k in ("max_pixels", "crop")})
    options = BuildOptions(out=root / "data", manifests=root / "manifests", workers=workers,
                           overwrite=kw.pop("overwrite", False))
    return synthesize(config, options, input=inputs, **kw)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, photos) -> Path:
    folder = tmp_path_factory.mktemp("inputs") / "photos"
    make_photos(folder, photos)
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory, inputs) -> Path:
    root = tmp_path_factory.mktemp("reference")
    run(root, inputs, workers=1)
    return root


def test_workers_1_and_2_give_byte_identical_outputs(tmp_path, inputs, reference):
    seen = []
    report = run(tmp_path, inputs, workers=2, on_progress=seen.append)
    assert report.shards_written == 6 * 2 and report.shards_skipped == 0  # 12 images, 2 per shard, 2 tasks
    assert sum(seen) == 12 * 2 * 2 and len(seen) > 6  # per-sample progress crosses the process boundary
    ref, new = files_bytes(reference / "data"), files_bytes(tmp_path / "data")
    assert sorted(ref) == sorted(new) and any(name.endswith(".tar") for name in ref)
    assert all(ref[name] == new[name] for name in ref)
    for task in TASKS:
        parquet = f"manifests/{task}.parquet"
        assert (reference / parquet).read_bytes() == (tmp_path / parquet).read_bytes()
        json_name = f"manifests/{task}.json"
        assert manifest_json_without_run(reference / json_name) == manifest_json_without_run(tmp_path / json_name)


def test_rerun_skips_completed_shards_and_changes_nothing(tmp_path, inputs, reference):
    shutil.copytree(reference, tmp_path / "copy")
    before = files_bytes(tmp_path / "copy", skip_stats=False)
    report = run(tmp_path / "copy", inputs)
    assert report.shards_written == 0 and report.shards_skipped == 12
    after = files_bytes(tmp_path / "copy", skip_stats=False)
    changed = [name for name in before if before[name] != after[name] and not name.endswith(".json")]
    assert changed == []


def test_partial_shard_is_redone(tmp_path, inputs, reference):
    root = tmp_path / "copy"
    shutil.copytree(reference, root)
    tar = root / "data/noisy/noisy-000002.tar"
    (root / "data/noisy/noisy-000002_stats.json").unlink()  # as if killed before the commit marker
    tar.write_bytes(tar.read_bytes()[:1000])
    (root / "data/noisy/noisy-000002.tar.999999.tmp").write_bytes(b"left behind by a killed writer")
    (root / "data/noisy/noisy-000002.parquet.999999.tmp").write_bytes(b"")
    report = run(root, inputs)
    assert report.shards_written == 1 and report.shards_skipped == 11
    assert tar.read_bytes() == (reference / "data/noisy/noisy-000002.tar").read_bytes()
    assert not list(root.rglob("*.tmp"))


def test_other_settings_refuse_to_mix_then_overwrite(tmp_path, inputs, reference):
    root = tmp_path / "copy"
    shutil.copytree(reference, root)
    with pytest.raises(ConfigMismatch, match="--overwrite"):
        run(root, inputs, seed=8)
    report = run(root, inputs, seed=8, overwrite=True)
    assert report.shards_written == 12
    frame = read_manifest(root / "manifests/noisy.parquet")
    assert set(frame["seed"]) != set(read_manifest(reference / "manifests/noisy.parquet")["seed"])


def _cli_args(root: Path, inputs: Path) -> list[str]:
    return ["synthesize", "--task", "noisy", "--task", "jpeg", "--input", str(inputs), "--out", str(root / "data"),
            "--manifest-dir", str(root / "manifests"), "--variants", "2", "--seed", "3", "--shard-size", "2",
            "--max-side", "256"]


def test_sigkill_then_rerun_is_byte_identical(tmp_path, tmp_path_factory, photos):
    inputs = tmp_path_factory.mktemp("kill_inputs") / "photos"
    make_photos(inputs, photos, per_photo=4, size=256)
    full, killed = tmp_path / "full", tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "pipelines.cli", *_cli_args(full, inputs)], check=True, env=env,
                   capture_output=True, cwd=tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *_cli_args(killed, inputs), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list((killed / "data").rglob("*_stats.json")):
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job, workers included, as a scheduler or the OOM killer would
    proc.wait()
    done = len(list((killed / "data").rglob("*_stats.json")))
    total = len(list((full / "data").rglob("*_stats.json")))
    assert 1 <= done < total, "the run was not interrupted in the middle"
    assert not (killed / "manifests" / "noisy.parquet").exists()
    result = CliRunner().invoke(cli, _cli_args(killed, inputs))
    assert result.exit_code == 0, result.output
    assert "already complete (skipped)" in result.output
    assert files_bytes(full / "data") == files_bytes(killed / "data")
    assert files_bytes(full / "manifests") .keys() == files_bytes(killed / "manifests").keys()
    for task in TASKS:
        assert (full / f"manifests/{task}.parquet").read_bytes() == (killed / f"manifests/{task}.parquet").read_bytes()
    assert not list(killed.rglob("*.tmp"))


def test_samples_replay_and_keys_follow_the_contract(reference):
    import webdataset as wds

    frame = read_manifest(reference / "manifests/noisy.parquet")
    assert len(frame) == 24 and (frame["status"] == "ok").all()
    assert frame["key"].is_unique and not frame["key"].str.contains(r"[./]").any()
    rows = frame.set_index("key")
    seen = 0
    for shard in sorted(set(frame["shard_path"])):
        for sample in wds.WebDataset(shard, shardshuffle=False, empty_check=False):
            key = sample["__key__"]
            row = rows.loc[key]
            meta = json.loads(sample["json"])
            assert meta["hq_sha256"] == row["hq_sha256"] and meta["params"] == json.loads(row["params"])
            assert meta["seed"] == row["seed"] == degradations.sub_seed(7, row["hq_sha256"], "noisy", row["variant"])
            hq, lq = decode_rgb(sample["hq.png"]), decode_rgb(sample["lq.png"])
            assert hq.shape == (row["height"], row["width"], 3) and max(hq.shape) <= 64
            assert np.array_equal(degradations.replay(hq, meta["params"]).lq, lq)
            seen += 1
    assert seen == len(frame)


def test_split_never_crosses_variants(reference):
    frame = read_manifest(reference / "manifests/jpeg-compressed.parquet")
    per_image = frame.groupby("hq_sha256")["split"].nunique()
    assert (per_image == 1).all() and frame.groupby("hq_sha256").size().eq(2).all()
    assert set(frame["split"]) == {"train", "val"}
    noisy = read_manifest(reference / "manifests/noisy.parquet")
    assert dict(zip(noisy["hq_sha256"], noisy["split"])) == dict(zip(frame["hq_sha256"], frame["split"]))


def test_sizes_json_and_shard_files(reference):
    folder = reference / "data/noisy"
    sizes = json.loads((folder / "sizes.json").read_text())
    assert sizes == {f"noisy-{i:06d}.tar": 4 for i in range(6)}
    stats = json.loads((folder / "noisy-000000_stats.json").read_text())
    assert stats["successes"] == 4 and stats["count"] == 4
    with tarfile.open(folder / "noisy-000000.tar") as tar:
        infos = tar.getmembers()
    assert {i.mtime for i in infos} == {0} and {i.uid for i in infos} == {0}
    assert [i.name.split(".", 1)[1] for i in infos[:3]] == ["hq.png", "json", "lq.png"]


def _bad_inputs(folder: Path, astronaut: np.ndarray) -> dict[str, str]:
    """Write every kind of odd input; return file name -> expected status."""
    folder.mkdir(parents=True)
    small = np.ascontiguousarray(cv2.resize(astronaut, (40, 30), interpolation=cv2.INTER_AREA))
    img = Image.fromarray(small)
    expected = {}

    def save(name, data, status):
        (folder / name).write_bytes(data)
        expected[name] = status

    def encoded(im, fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    save("good.png", encoded(img, "PNG"), "ok")
    save("empty.jpg", b"", "error")
    png = encoded(Image.fromarray(np.ascontiguousarray(small[::-1])), "PNG")
    save("truncated.png", png[: len(png) // 2], "error")
    jpg = encoded(Image.fromarray(np.ascontiguousarray(small[:, ::-1])), "JPEG")
    save("truncated.jpg", jpg[: len(jpg) // 2], "error")
    save("notes.jpg", b"this is a text file, not a photo\n" * 3, "error")
    corrupt = bytearray(encoded(Image.fromarray(np.ascontiguousarray(small[::-1, ::-1])), "PNG"))
    start = corrupt.index(b"IDAT")
    corrupt[start + 8 : start + 40] = bytes(32)
    save("corrupt.png", bytes(corrupt), "error")
    save("bomb.png", encoded(Image.fromarray(np.zeros((200, 300, 3), np.uint8)), "PNG"), "error")
    save("cmyk.jpg", encoded(Image.fromarray(np.ascontiguousarray(small[:20])).convert("CMYK"), "JPEG"), "ok")
    save("gray16.png", encoded(Image.fromarray(small[:, :, 0].astype(np.uint16) * 257), "PNG"), "ok")
    rgba = np.dstack([small, np.full(small.shape[:2], 128, np.uint8)])
    save("rgba.png", encoded(Image.fromarray(rgba, "RGBA"), "PNG"), "ok")
    save("palette.png", encoded(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=8), "PNG"), "ok")
    save("gray.png", encoded(Image.fromarray(small[:, :, 1]), "PNG"), "ok")
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", encoded(Image.fromarray(np.ascontiguousarray(small[5:25])), "JPEG", exif=exif.tobytes()), "ok")
    return expected


def test_bad_inputs_are_rows_never_crashes(tmp_path, astronaut):
    inputs = tmp_path / "in" / "odd"
    expected = _bad_inputs(inputs, astronaut)
    (inputs / "README.md").write_text("not listed: no image extension")
    input_files = files_bytes(tmp_path / "in")
    root = tmp_path / "run"
    report = run(root, inputs, tasks=("noisy",), variants=1, max_pixels=20_000, val_fraction=0.0)
    frame = read_manifest(root / "manifests/noisy.parquet", status=None)
    by_name = {Path(s).name: row for s, row in zip(frame["source"], frame.to_dict("records"))}
    assert sorted(by_name) == sorted(expected)
    for name, status in expected.items():
        assert by_name[name]["status"] == status, (name, by_name[name]["error_message"])
    messages = {name: by_name[name]["error_message"] for name in expected if expected[name] == "error"}
    assert "empty file" in messages["empty.jpg"]
    assert "truncated" in messages["truncated.png"] and "truncated" in messages["truncated.jpg"]
    assert "not an image" in messages["notes.jpg"]
    assert "too many pixels: 300x200" in messages["bomb.png"]
    assert messages["corrupt.png"]
    assert (by_name["rotated.jpg"]["width"], by_name["rotated.jpg"]["height"]) == (20, 40)  # EXIF applied
    assert (by_name["cmyk.jpg"]["width"], by_name["cmyk.jpg"]["height"]) == (40, 20)
    assert sum(report.errors.values()) == 6
    assert (frame.loc[frame["status"] == "error", "members"].isna()).all()
    assert not frame["key"].str.contains(r"[./]").any() and frame["key"].is_unique
    # nothing written outside --out and --manifest-dir; inputs untouched
    assert files_bytes(tmp_path / "in") == input_files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "run"]
    assert sorted(p.name for p in root.iterdir()) == ["data", "manifests"]


def test_exact_duplicates_are_processed_once(tmp_path, photos):
    inputs = tmp_path / "dups"
    paths = make_photos(inputs, {"coffee": photos["coffee"]}, per_photo=2, size=48)
    shutil.copy(paths[0], inputs / "copy_of_first.png")
    (inputs / "sub").mkdir()
    shutil.copy(paths[0], inputs / "sub" / "again.png")
    report = run(tmp_path / "run", inputs, tasks=("noisy",), variants=1)
    assert report.n_listed == 4 and report.n_sources == 2 and len(report.duplicates) == 2
    assert {Path(d.source).name for d in report.duplicates} == {"copy_of_first.png", "again.png"}
    frame = read_manifest(tmp_path / "run/manifests/noisy.parquet", status=None)
    assert len(frame) == 2 and frame["source_sha256"].is_unique
    record = json.loads((tmp_path / "run/manifests/noisy.json").read_text())
    assert len(record["duplicates"]) == 2


def test_cli_summary_and_default_input(tmp_path):
    result = CliRunner().invoke(
        cli, ["synthesize", "--task", "noise", "--out", str(tmp_path / "d"), "--manifest-dir", str(tmp_path / "m"),
              "--max-side", "32", "--crop", "24", "--shard-size", "8"])
    assert result.exit_code == 0, result.output
    assert "bundled scikit-image photos" in result.output
    assert "images/s" in result.output and "train/ok" in result.output
    frame = pd.read_parquet(tmp_path / "m" / "noisy.parquet")
    assert frame["source"].str.startswith("skimage:").all() and len(frame) >= 4
    assert (frame["width"] <= 24).all() and (frame["height"] <= 24).all()
    bad = CliRunner().invoke(cli, ["synthesize", "--task", "fog", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown degradation" in bad.output


def test_same_pixels_in_different_files_keep_keys_unique(tmp_path, photos):
    inputs = tmp_path / "same"
    inputs.mkdir()
    crop = np.ascontiguousarray(photos["chelsea"][:40, :40])
    Image.fromarray(crop).save(inputs / "a.png")
    cv2.imwrite(str(inputs / "b.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    Image.fromarray(np.ascontiguousarray(photos["coffee"][:40, :40])).save(inputs / "c.png")
    assert (inputs / "a.png").read_bytes() != (inputs / "b.png").read_bytes()
    run(tmp_path / "run", inputs, tasks=("noisy",), variants=1, shard_size=1)
    manifest = tmp_path / "run/manifests/noisy.parquet"
    frame = read_manifest(manifest, status=None)
    assert frame["key"].is_unique and len(frame) == 3
    dup = frame[frame["status"] == "error"]
    assert len(dup) == 1 and "same HQ pixels as" in dup["error_message"].iloc[0]
    from pipelines.tools.verify import verify_manifest

    assert verify_manifest(manifest).ok
