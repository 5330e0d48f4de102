"""Real photos without ground truth: ``ingest`` of LQ-only folders (labelled, mixture, unknown), the
readers of its manifests (verify, stats, merge, export-csv) and ``caption --on lq``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

import degradations
from pipelines.cli import cli
from pipelines.manifest.schema import assign_split, make_key, read_manifest, task_from_slug
from pipelines.manifest.validate import ManifestError
from tests.pipelines.hostile import edit_manifest
from tests.pipelines.tiny_blip import build_tiny_blip

LQ_ONLY_LABELS = {"rainy": 2, "unknown": 2, "hazy+rainy": 1, "snowy": 1}  # label -> images in the tree


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def _crops(photos: dict[str, np.ndarray], n: int) -> list[np.ndarray]:
    names = sorted(photos)
    return [np.ascontiguousarray(photos[names[i % len(names)]][20 * i : 20 * i + 24, 30:54]) for i in range(n)]


def _paired(root: Path, crops: list[np.ndarray]) -> None:
    for i, crop in enumerate(crops[:2]):
        _save(root / f"train/noisy/GT/p{i}.png", crop)
        _save(root / f"train/noisy/LQ/p{i}.png", degradations.degrade(crop, "noisy", seed=i)[0])


def _lq_only(root: Path, crops: list[np.ndarray]) -> None:
    c = crops[2:]
    _save(root / "rainy/LQ/a.png", c[0])
    _save(root / "rainy/LQ/b.png", c[1])
    _save(root / "my-night-shots/c.png", c[2])  # not a type: unknown
    _save(root / "my-night-shots/d.jpg", c[3])
    _save(root / "hazy+rain/LQ/e.png", c[4])  # an alias inside a mixture
    _save(root / "train/snow/LQ/f.png", c[5])  # an LQ-only type folder under a split


def _ingest(root: Path, out: Path, *extra: str):
    result = CliRunner().invoke(cli, ["ingest", "--root", str(root), "--out", str(out / "data"),
                                      "--manifest-dir", str(out / "manifests"), "--shard-size", "1", *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def tree(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("lqonly") / "photos"
    crops = _crops(photos, 8)
    _paired(root, crops)
    _lq_only(root, crops)
    return root


@pytest.fixture(scope="module")
def ingested(tree, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ingested")
    return out, _ingest(tree, out, "--val-fraction", "0.5").output


def _frames(manifests: Path) -> dict[str, pd.DataFrame]:
    return {task_from_slug(p.name.split(".")[0]): read_manifest(p, status=None)
            for p in sorted(manifests.glob("*.ingested.parquet"))}


def test_lq_only_folders_are_found_and_labelled_automatically(ingested, tree):
    out, output = ingested
    assert "'my-night-shots' is not a degradation type or a+b mixture; its images are labelled unknown" in output
    frames = _frames(out / "manifests")
    assert set(frames) == {"noisy", *LQ_ONLY_LABELS}
    assert frames["noisy"]["hq_sha256"].notna().all()  # paired stays paired
    import webdataset as wds

    from pipelines.common.images import decode_rgb

    for label, count in LQ_ONLY_LABELS.items():
        frame = frames[label]
        assert len(frame) == count and (frame["status"] == "ok").all() and (frame["origin"] == "ingested").all()
        assert (frame["degradation"] == label).all() and frame["hq_sha256"].isna().all()
        assert (frame["members"] == '["json","lq.png"]').all() and frame["caption"].isna().all()
        for shard in sorted(set(frame["shard_path"])):
            for sample in wds.WebDataset(shard, shardshuffle=False, empty_check=False):
                row = frame.set_index("key").loc[sample["__key__"]]
                lq_sha = hashlib.sha256(sample["lq.png"]).hexdigest()
                assert row["lq_sha256"] == lq_sha and sample["__key__"] == make_key(label, lq_sha, 0)
                assert np.array_equal(decode_rgb(sample["lq.png"]), np.asarray(Image.open(row["source"]).convert("RGB")))
                meta = json.loads(sample["json"])
                assert meta["hq_sha256"] is None and meta["gt_source"] is None and meta["degradation"] == label
    assert set(frames["snowy"]["split"]) == {"train"}  # from the split folder, else by LQ hash
    for label in ("rainy", "unknown", "hazy+rainy"):
        frame = frames[label]
        assert list(frame["split"]) == [assign_split(h, 0.5) for h in frame["lq_sha256"]]
    assert "+" not in "".join(frames["hazy+rainy"]["key"])


def test_lq_only_flag_lq_without_hq_and_labels(tree, tmp_path):
    _ingest(tree, tmp_path / "all", "--lq-only")
    frames = _frames(tmp_path / "all/manifests")
    assert frames["noisy"]["hq_sha256"].isna().all() and len(frames["noisy"]) == 2  # GT/ not read
    folder = CliRunner().invoke(cli, ["ingest", "--lq", str(tree / "rainy/LQ"), "--task", "rain+haze",
                                      "--out", str(tmp_path / "d"), "--manifest-dir", str(tmp_path / "m")])
    assert folder.exit_code == 0, folder.output
    assert set(read_manifest(tmp_path / "m/rainy--hazy.ingested.parquet")["degradation"]) == {"rainy+hazy"}
    plain = CliRunner().invoke(cli, ["ingest", "--lq", str(tree / "my-night-shots"), "--out", str(tmp_path / "d"),
                                     "--manifest-dir", str(tmp_path / "m")])
    assert plain.exit_code == 0 and len(read_manifest(tmp_path / "m/unknown.ingested.parquet")) == 2
    both = CliRunner().invoke(cli, ["ingest", "--lq-only", "--lq", str(tree / "train/noisy/LQ"), "--hq",
                                    str(tree / "train/noisy/GT"), "--out", str(tmp_path / "d")])
    assert both.exit_code != 0 and "drop --hq" in both.output and "Traceback" not in both.output
    bad = CliRunner().invoke(cli, ["ingest", "--lq", str(tree / "rainy/LQ"), "--task", "rainy+rainy",
                                   "--out", str(tmp_path / "d")])
    assert bad.exit_code != 0 and "names a type twice" in bad.output


def test_paired_output_unchanged_by_lq_only_folders_and_worker_counts(tree, ingested, tmp_path, photos):
    out, _ = ingested
    root = tmp_path / "photos"
    _paired(root, _crops(photos, 8))
    paired_only = tmp_path / "paired"
    _ingest(root, paired_only, "--val-fraction", "0.5")
    _lq_only(root, _crops(photos, 8))
    with_lq = tmp_path / "with"
    _ingest(root, with_lq, "--val-fraction", "0.5")
    for rel in ["manifests/noisy.ingested.parquet", *(str(p.relative_to(paired_only))
                                                     for p in (paired_only / "data").rglob("*.tar"))]:
        assert (paired_only / rel).read_bytes() == (with_lq / rel).read_bytes(), rel
    two = tmp_path / "two"
    _ingest(tree, two, "--val-fraction", "0.5", "--workers", "2")
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.suffix in (".tar", ".parquet"))
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.suffix in (".tar", ".parquet"))
    assert len([f for f in files if f.suffix == ".tar"]) == 8
    for rel in files:
        assert (out / rel).read_bytes() == (two / rel).read_bytes(), rel
    again = _ingest(tree, two, "--val-fraction", "0.5")  # resumable: nothing left to do
    assert "0 written" in again.output


def test_verify_stats_merge_read_lq_only_rows(ingested, tmp_path):
    out, _ = ingested
    manifests = sorted((out / "manifests").glob("*.ingested.parquet"))
    verify = CliRunner().invoke(cli, ["verify", *sum((["--manifest", str(p)] for p in manifests), [])])
    assert verify.exit_code == 0 and verify.output.count("OK: every shard") == len(manifests), verify.output
    stats = CliRunner().invoke(cli, ["stats", "--manifest-dir", str(out / "manifests"), "--out",
                                     str(tmp_path / "s.json")])
    assert stats.exit_code == 0, stats.output
    numbers = json.loads((tmp_path / "s.json").read_text())
    assert set(numbers["tasks"]) == {"noisy", *LQ_ONLY_LABELS}
    assert numbers["totals"]["without_hq"] == sum(LQ_ONLY_LABELS.values())
    assert numbers["tasks"]["unknown"]["without_hq"] == 2 and numbers["tasks"]["noisy"]["without_hq"] == 0
    assert f"{sum(LQ_ONLY_LABELS.values())} ok rows have no clean image" in stats.output
    merged = CliRunner().invoke(cli, ["merge", *map(str, manifests), "--train", str(tmp_path / "train.parquet"),
                                      "--val", str(tmp_path / "val.parquet")])
    assert merged.exit_code == 0, merged.output
    both = pd.concat([read_manifest(tmp_path / f"{s}.parquet") for s in ("train", "val")])
    assert len(both) == 2 + sum(LQ_ONLY_LABELS.values()) and both["hq_sha256"].isna().sum() == 6
    report = CliRunner().invoke(cli, ["verify", "--manifest", str(tmp_path / "train.parquet")])
    assert report.exit_code == 0, report.output


def test_validator_allows_no_hq_only_for_ingested_rows_without_ground_truth(ingested, tmp_path):
    out, _ = ingested
    rainy, paired = out / "manifests/rainy.ingested.parquet", out / "manifests/noisy.ingested.parquet"
    cases = {
        "paired without hq": (paired, {"members": '["json","lq.png"]'}, "ok row without an hq member"),
        "no lq member": (paired, {"members": '["hq.png","json"]'}, "ok row without an lq member"),
        "hq hash but no hq member": (rainy, {"hq_sha256": "0" * 64}, "ok row without an hq member"),
        "not ingested": (rainy, {"origin": "synthesized"}, "ok row without an hq member"),
        "hq member, no hash": (rainy, {"members": '["hq.png","json","lq.png"]'}, "hq member but no hq_sha256"),
    }
    for name, (src, change, problem) in cases.items():
        with pytest.raises(ManifestError, match=problem):
            read_manifest(edit_manifest(src, tmp_path / f"{name.replace(' ', '_')}.parquet", **change))


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("tiny_blip"), image_size=32)


def _caption(manifests: Path, blip: Path, *extra: str):
    result = CliRunner().invoke(cli, ["caption", "--manifest-dir", str(manifests), "--model", str(blip),
                                      "--batch-size", "4", "--workers", "0", "--max-new-tokens", "6", *extra])
    assert result.exit_code == 0, result.output
    return result


def test_caption_on_lq_then_export_csv(tree, blip_dir, tmp_path):
    root = tmp_path / "ds"
    _ingest(tree, root)  # every row in train
    manifests = root / "manifests"
    lq_rows = sum(LQ_ONLY_LABELS.values())
    default = _caption(manifests, blip_dir)
    assert f"skipped {lq_rows} rows without an HQ image" in default.output and "2 captioned" in default.output

    parts = [_caption(manifests, blip_dir, "--on", "lq", "--part", f"{i}/2") for i in range(2)]
    assert sum(int(p.output.split(" captioned")[0].rsplit(" ", 1)[1]) for p in parts) == lq_rows
    final = _caption(manifests, blip_dir, "--on", "lq")  # folds the parts in; nothing left to caption
    assert "0 captioned" in final.output and "skipped" not in final.output
    store = pq.read_table(manifests / "captions.parquet").to_pandas()
    rows = pd.concat([read_manifest(p) for p in sorted(manifests.glob("*.ingested.parquet"))])
    assert rows["caption"].notna().all()
    assert sorted(store.loc[store["image"] == "lq", "hq_sha256"]) == sorted(rows["lq_sha256"][rows["hq_sha256"].isna()])
    assert sorted(store.loc[store["image"] == "hq", "hq_sha256"]) == sorted(rows["hq_sha256"].dropna())
    by_hash = dict(zip(store["hq_sha256"], store["caption"]))
    lq_only = rows[rows["hq_sha256"].isna()]
    assert (lq_only["caption"] == lq_only["lq_sha256"].map(by_hash)).all()

    merged = CliRunner().invoke(cli, ["merge", *map(str, sorted(manifests.glob("*.ingested.parquet"))),
                                      "--train", str(root / "all.parquet"), "--val", str(root / "none.parquet")])
    assert merged.exit_code == 0, merged.output
    csv, images = root / "train.csv", root / "images"
    export = CliRunner().invoke(cli, ["export-csv", "--manifest", str(root / "all.parquet"), "--out", str(csv),
                                      "--image-root", str(images), "--with-gt"])
    assert export.exit_code == 0, export.output
    table = pd.read_csv(csv, sep="\t")
    all_rows = read_manifest(root / "all.parquet")
    unknown = int((all_rows["degradation"] == "unknown").sum())
    mixture = int(all_rows["degradation"].str.contains("+", regex=False).sum())  # dropped by default (--mixtures)
    assert unknown == 2 and mixture == 1
    assert len(table) == len(all_rows) - unknown - mixture and not table["title"].str.endswith(": unknown").any()
    assert (f"left out {unknown} rows labelled unknown (the title needs a degradation); "
            f"{lq_rows - unknown - mixture} rows have no clean image") in export.output
    assert all(Path(f).is_file() for f in table["filepath"])
    assert len(list(images.rglob("GT/*"))) == int(all_rows["hq_sha256"].notna().sum())
