"""make-dataset ingest: DA-CLIP's folder layout and plain LQ/GT folders into the synthesize schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import degradations
from pipelines.cli import cli
from pipelines.manifest.schema import COLUMNS, read_manifest
from pipelines.tools.merge import merge
from pipelines.tools.verify import verify_manifest


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def make_tree(root: Path, photos: dict[str, np.ndarray]) -> Path:
    """A small DA-CLIP tree: real crops degraded by our own library, plus the usual problems."""
    crops = {f"{name}{i}": np.ascontiguousarray(img[30 * i : 30 * i + 32, 40:80])
             for name, img in sorted(photos.items()) for i in range(2)}
    names = sorted(crops)
    for i, name in enumerate(names[:5]):  # train/noisy: 5 pairs
        _save(root / f"train/noisy/GT/{name}.png", crops[name])
        _save(root / f"train/noisy/LQ/{name}.png", degradations.degrade(crops[name], "noisy", seed=i)[0])
    _save(root / "train/noisy/LQ/orphan.png", crops[names[5]])  # no GT
    for name in names[5:7]:  # val/jpeg-compressed via an alias folder name
        _save(root / f"val/jpeg/GT/{name}.png", crops[name])
        _save(root / f"val/jpeg/LQ/{name}.png", degradations.degrade(crops[name], "jpeg", seed=0)[0])
    big = crops[names[7]]
    _save(root / "train/jpeg-compressed/GT/mismatch.png", big)
    _save(root / "train/jpeg-compressed/LQ/mismatch.png", degradations.degrade(big, "jpeg", seed=1)[0][:30, :38])
    _save(root / "train/jpeg-compressed/GT/corrupt.png", crops[names[0]])
    (root / "train/jpeg-compressed/LQ/corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _save(root / "train/foggy/LQ/a.png", crops[names[0]])  # unknown type folder
    _save(root / "train/foggy/GT/a.png", crops[names[0]])
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory, photos) -> Path:
    return make_tree(tmp_path_factory.mktemp("ingest") / "universal", photos)


def _ingest(root: Path, out: Path, *extra: str):
    result = CliRunner().invoke(cli, ["ingest", "--root", str(root), "--out", str(out / "data"),
                                      "--manifest-dir", str(out / "manifests"), "--shard-size", "3", *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def ingested(tree, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ingested")
    return out, _ingest(tree, out).output


def test_daclip_tree_rows_statuses_and_report(ingested):
    out, output = ingested
    assert "unknown degradation type folder 'foggy'" in output
    assert "1 LQ file(s) without a GT file" in output
    noisy = read_manifest(out / "manifests/noisy.ingested.parquet", status=None)
    assert list(noisy.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(noisy) == 6 and (noisy["status"] == "ok").sum() == 5
    orphan = noisy[noisy["status"] == "error"].iloc[0]
    assert orphan["source"].endswith("orphan.png") and "no GT file" in orphan["error_message"]
    ok = noisy[noisy["status"] == "ok"]
    assert set(ok["split"]) == {"train"} and set(ok["origin"]) == {"ingested"}
    assert ok["params"].isna().all() and ok["key"].is_unique and not ok["key"].str.contains(r"[./]").any()
    jpeg = read_manifest(out / "manifests/jpeg-compressed.ingested.parquet", status=None)
    by_name = {Path(s).name + "/" + sp: r for s, sp, r in zip(jpeg["source"], jpeg["split"], jpeg.to_dict("records"))}
    assert by_name["mismatch.png/train"]["status"] == "error"
    assert "size mismatch: LQ 38x30 vs GT 40x32" in by_name["mismatch.png/train"]["error_message"]
    assert by_name["corrupt.png/train"]["status"] == "error" and "LQ:" in by_name["corrupt.png/train"]["error_message"]
    assert sum(1 for k in by_name if k.endswith("/val")) == 2
    assert all(r["status"] == "ok" for k, r in by_name.items() if k.endswith("/val"))


def test_ingested_pixels_and_hashes_match_the_files(ingested, tree):
    out, _ = ingested
    frame = read_manifest(out / "manifests/noisy.ingested.parquet")
    report = verify_manifest(out / "manifests/noisy.ingested.parquet")
    assert report.ok, report.problems
    import webdataset as wds

    from pipelines.common.images import decode_rgb

    rows = frame.set_index("key")
    for shard in sorted(set(frame["shard_path"])):
        for sample in wds.WebDataset(shard, shardshuffle=False, empty_check=False):
            row = rows.loc[sample["__key__"]]
            lq_file = np.asarray(Image.open(row["source"]).convert("RGB"))
            assert np.array_equal(decode_rgb(sample["lq.png"]), lq_file)
            meta = json.loads(sample["json"])
            gt_file = np.asarray(Image.open(meta["gt_source"]).convert("RGB"))
            assert np.array_equal(decode_rgb(sample["hq.png"]), gt_file)
            assert meta["origin"] == "ingested" and meta["params"] is None


def test_fix_size_crop_and_rerun_resume(tree, tmp_path):
    out = tmp_path / "crop"
    _ingest(tree, out, "--fix-size", "crop")
    jpeg = read_manifest(out / "manifests/jpeg-compressed.ingested.parquet", status=None)
    row = jpeg[jpeg["source"].str.endswith("mismatch.png")].iloc[0]
    assert row["status"] == "ok" and (row["width"], row["height"]) == (38, 30)
    before = {p: p.read_bytes() for p in (out / "data").rglob("*.tar")}
    again = _ingest(tree, out, "--fix-size", "crop")
    assert "0 written" in again.output
    assert before == {p: p.read_bytes() for p in (out / "data").rglob("*.tar")}


def test_shared_gt_gives_variants_of_one_clean_image(tmp_path, photos):
    clean = np.ascontiguousarray(photos["coffee"][:32, :32])
    other = np.ascontiguousarray(photos["rocket"][:32, :32])
    for level in range(3):  # three rain levels of one clean image, GT stored once per LQ name
        lq, _ = degradations.degrade(clean, "noisy", seed=level)
        _save(tmp_path / f"lq/img_{level}.png", lq)
        _save(tmp_path / f"gt/img_{level}.png", clean)
    _save(tmp_path / "lq/other.png", degradations.degrade(other, "noisy", seed=9)[0])
    _save(tmp_path / "gt/other.png", other)
    result = CliRunner().invoke(cli, ["ingest", "--task", "noise", "--lq", str(tmp_path / "lq"), "--hq",
                                      str(tmp_path / "gt"), "--split", "auto", "--val-fraction", "0.5",
                                      "--out", str(tmp_path / "data"), "--manifest-dir", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    frame = read_manifest(tmp_path / "m/noisy.ingested.parquet")
    shared = frame[frame["source"].str.contains("img_")]
    assert shared["hq_sha256"].nunique() == 1 and sorted(shared["variant"]) == [0, 1, 2]
    assert shared["split"].nunique() == 1 and frame["key"].is_unique


def test_merge_ingested_with_synthesized(ingested, tmp_path):
    out, _ = ingested
    root = tmp_path / "mix"
    shutil.copytree(out, root)
    result = CliRunner().invoke(cli, ["synthesize", "--task", "noisy", "--max-side", "32", "--out",
                                      str(root / "data"), "--manifest-dir", str(root / "manifests")])
    assert result.exit_code == 0, result.output
    paths = sorted((root / "manifests").glob("*.parquet"))
    merge(paths, train=root / "manifests/train.parquet", val=root / "manifests/val.parquet")
    train = read_manifest(root / "manifests/train.parquet")
    assert set(train["origin"]) == {"ingested", "synthesized"}
    assert verify_manifest(root / "manifests/train.parquet").ok
    stats = CliRunner().invoke(cli, ["stats", "--manifest-dir", str(root / "manifests")])
    assert stats.exit_code == 0 and "noisy" in stats.output
    sizes = json.loads((root / "data/noisy/sizes.json").read_text())
    assert any("-ingested-" in k for k in sizes) and any("-ingested-" not in k for k in sizes)


def test_merged_ingested_and_synthesized_data_trains_daclip(ingested, tmp_path):
    torch = pytest.importorskip("torch")
    from daclip.controller.train_command import command as train_main

    torch.set_num_threads(1)
    out, _ = ingested
    root = tmp_path / "train"
    shutil.copytree(out, root)
    result = CliRunner().invoke(cli, ["synthesize", "--task", "noisy", "--task", "jpeg", "--max-side", "48",
                                      "--out", str(root / "data"), "--manifest-dir", str(root / "manifests")])
    assert result.exit_code == 0, result.output
    merge(sorted((root / "manifests").glob("*.parquet")), train=root / "train.parquet", val=root / "val.parquet")
    result = CliRunner().invoke(train_main, ["--shards", str(root / "train.parquet"), "--model", "tiny",
                                             "--pretrained", "none", "--steps", "2", "--batch-size", "4",
                                             "--workers", "1", "--seed", "0", "--out", str(root / "run")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    summary = json.loads(last[last.index('{"'):])  # the progress bar may share the line (stderr is mixed in)
    assert summary["final_step"] == 2 and summary["loss"] > 0


def test_ingest_is_deterministic_across_worker_counts(ingested, tree, tmp_path):
    out, _ = ingested
    _ingest(tree, tmp_path, "--workers", "2")
    tars = sorted(p.relative_to(out) for p in out.rglob("*.tar"))
    assert tars == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.tar")) and len(tars) == 4
    for rel in tars + [Path("manifests/noisy.ingested.parquet"), Path("manifests/jpeg-compressed.ingested.parquet")]:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
