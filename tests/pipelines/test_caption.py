"""``make-dataset caption`` and ``export-csv`` on a tiny randomly initialised BLIP (no network)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from pipelines.caption.blip import Captioner
from pipelines.caption.config import CaptionConfig, CaptionRuntime
from pipelines.caption.plan import list_manifests, plan_images
from pipelines.caption.run import caption_manifests
from pipelines.caption.store import load_captions
from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest
from tests.pipelines.hostile import error_lines, pixel_bomb_png, rewrite_tar, run_measured
from tests.pipelines.tiny_blip import build_tiny_blip

TASKS = ("noisy", "jpeg-compressed")
VARIANTS = 2


def _synthesize(root: Path, photos: dict[str, np.ndarray]) -> Path:
    """Shards and manifests from ``make-dataset synthesize``: 4 clean photos (and one unreadable
    file, which becomes failed rows) under 2 tasks x 2 variants. Returns the manifests folder."""
    inputs = root / "photos"
    inputs.mkdir(parents=True)
    for name, photo in photos.items():
        Image.fromarray(photo).resize((56, 48), Image.BICUBIC).save(inputs / f"{name}.png")
    (inputs / "broken.png").write_bytes(b"not a png")
    args = ["synthesize", "--task", "noisy", "--task", "jpeg", "--variants", str(VARIANTS), "--max-side", "64",
            "--input", str(inputs), "--out", str(root / "data"), "--manifests", str(root / "manifests"),
            "--workers", "1"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return root / "manifests"


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("tiny_blip"), image_size=32)


@pytest.fixture(scope="module")
def dataset_template(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    _synthesize(root, photos)
    return root


@pytest.fixture()
def dataset(dataset_template, tmp_path) -> Path:
    """A fresh copy of the shards and manifests; returns the manifests folder."""
    root = tmp_path / "ds"
    shutil.copytree(dataset_template, root)
    return root / "manifests"


@pytest.fixture(scope="module")
def captioner(blip_dir) -> Captioner:
    return Captioner.load(str(blip_dir), device="cpu")


def _ok_rows(manifests: Path) -> pd.DataFrame:
    return pd.concat([read_manifest(p) for p in list_manifests(manifests)], ignore_index=True)


def _run(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


class CountingCaptioner:
    """Wraps a Captioner: counts the images it is asked to caption, can blank one output or die."""

    def __init__(self, inner: Captioner, empty_for: int = -1, die_after_batches: int | None = None):
        self.inner, self.seen, self.empty_for, self.batches = inner, 0, empty_for, 0
        self.die_after_batches = die_after_batches

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, pixel_values):
        if self.batches == self.die_after_batches:
            raise KeyboardInterrupt  # as if the run were killed here
        self.batches += 1
        self.seen += pixel_values.shape[0]
        texts = self.inner.generate(pixel_values)
        return ["   " if i == self.empty_for else t for i, t in enumerate(texts)]


def test_one_caption_per_unique_clean_image_and_join(dataset, blip_dir):
    before = {p.name: pq.read_table(p) for p in list_manifests(dataset)}
    args = ["caption", "--manifests", str(dataset), "--model", str(blip_dir), "--batch-size", "4",
            "--workers", "1", "--max-new-tokens", "8"]  # fmt: skip
    result = _run(args)
    assert result.exit_code == 0, result.output

    store = pq.read_table(dataset / "captions.parquet").to_pandas()
    rows = _ok_rows(dataset)
    unique = set(rows["hq_sha256"])
    assert len(unique) == 4 and len(rows) == 4 * len(TASKS) * VARIANTS
    assert sorted(store["hq_sha256"]) == sorted(unique)  # each clean image captioned exactly once
    assert store["caption"].map(lambda c: isinstance(c, str) and c == " ".join(c.split()) and c != "").all()
    assert store["error"].isna().all()
    assert (store["model"] == str(blip_dir.resolve())).all()
    assert json.loads(store["settings"][0])["max_new_tokens"] == 8
    assert store["caption"].nunique() > 1  # different photos, different captions

    # the join: every degraded variant of a clean image carries that image's caption
    by_hash = dict(zip(store["hq_sha256"], store["caption"]))
    assert (rows["caption"] == rows["hq_sha256"].map(by_hash)).all()
    for path in list_manifests(dataset):
        after = pq.read_table(path)
        assert after.schema.equals(before[path.name].schema)
        assert after.column("key").to_pylist() == before[path.name].column("key").to_pylist()
        assert after.drop(["caption"]).equals(before[path.name].drop(["caption"]))
        failed = after.to_pandas().query("status == 'error'")  # the unreadable input
        assert len(failed) == VARIANTS and failed["caption"].isna().all()
    assert "4 captioned" in result.output


def test_batched_greedy_equals_unbatched(dataset, captioner):
    refs = plan_images(list_manifests(dataset)).refs
    images = []
    for ref in refs:
        with open(ref.shard_path, "rb") as handle:
            handle.seek(ref.offset)
            images.append(Image.open(io.BytesIO(handle.read(ref.size))).convert("RGB"))
    batched = captioner.caption(images)
    single = [captioner.caption([image])[0] for image in images]
    assert batched == single
    assert all(batched)


def test_prompt_is_conditional_prefix(blip_dir, photos):
    from pipelines.caption.blip import GenerationSettings

    prompted = Captioner.load(
        str(blip_dir), device="cpu", generation=GenerationSettings(max_new_tokens=6, prompt="a picture of")
    )
    images = [Image.fromarray(p) for p in photos.values()]
    texts = prompted.caption(images)
    assert all(t.startswith("a picture of") for t in texts)
    assert texts == [prompted.caption([i])[0] for i in images]


def test_killed_run_resumes_captioning_only_missing_rows(dataset, captioner, tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(dataset.parent, reference)
    caption_manifests(reference / "manifests", runtime=CaptionRuntime(workers=0), captioner=captioner)
    full = load_captions(reference / "manifests")

    runtime = CaptionRuntime(batch_size=3, workers=0, flush_seconds=0)
    with pytest.raises(KeyboardInterrupt):
        caption_manifests(dataset, runtime=runtime, captioner=CountingCaptioner(captioner, die_after_batches=1))
    assert len(load_captions(dataset)) == 3  # the first batch survived the kill

    spy = CountingCaptioner(captioner)
    second = caption_manifests(dataset, runtime=runtime, captioner=spy)
    assert spy.seen == 1 and second.captioned == 1 and second.already_captioned == 3
    pd.testing.assert_frame_equal(load_captions(dataset), full)
    assert (_ok_rows(dataset)["caption"] == _ok_rows(reference / "manifests")["caption"]).all()

    # nothing missing: the model is not even loaded
    third = caption_manifests(dataset, CaptionConfig(model="/nonexistent/blip"))
    assert third.captioned == 0 and third.rows_with_caption == 16


def test_parts_then_merge_equal_one_run(dataset, captioner, tmp_path):
    whole = tmp_path / "whole"
    shutil.copytree(dataset.parent, whole)
    caption_manifests(whole / "manifests", runtime=CaptionRuntime(workers=0), captioner=captioner)
    for index in range(2):
        report = caption_manifests(dataset, CaptionConfig(part=(index, 2)), CaptionRuntime(workers=0),
                                   captioner=captioner)
        assert report.manifests_updated == 0
    assert not (dataset / "captions.parquet").exists()
    assert _ok_rows(dataset)["caption"].isna().all()
    spy = CountingCaptioner(captioner)
    caption_manifests(dataset, runtime=CaptionRuntime(workers=0), captioner=spy)  # folds the parts, joins
    assert spy.seen == 0
    assert sorted(p.name for p in dataset.glob("captions*")) == ["captions.parquet"]
    pd.testing.assert_frame_equal(load_captions(dataset), load_captions(whole / "manifests"))
    assert (_ok_rows(dataset)["caption"] == _ok_rows(whole / "manifests")["caption"]).all()


def test_empty_output_is_an_error_not_a_caption(dataset, captioner):
    spy = CountingCaptioner(captioner, empty_for=0)
    report = caption_manifests(dataset, runtime=CaptionRuntime(batch_size=8, workers=0), captioner=spy)
    assert report.errors == 1 and report.captioned == 3
    store = load_captions(dataset)
    bad = store[store["caption"].isna()]
    assert len(bad) == 1 and bad["error"].iloc[0] == "empty caption"
    assert _ok_rows(dataset)["caption"].notna().sum() == 12
    # the rerun retries the failed image only
    spy = CountingCaptioner(captioner)
    report = caption_manifests(dataset, runtime=CaptionRuntime(workers=0), captioner=spy)
    assert spy.seen == 1 and report.errors == 0
    assert load_captions(dataset)["caption"].notna().all()


def test_unreadable_hq_member_is_an_error_row(dataset, captioner):
    refs = plan_images(list_manifests(dataset)).refs
    broken = refs[0]
    with open(broken.shard_path, "r+b") as handle:  # garble the PNG signature of the member that is read
        handle.seek(broken.offset)
        handle.write(b"\0" * 16)
    report = caption_manifests(dataset, runtime=CaptionRuntime(batch_size=8, workers=0), captioner=captioner)
    assert report.errors == 1 and report.captioned == 3
    store = load_captions(dataset).set_index("hq_sha256")
    assert store.loc[broken.hq_sha256, "error"].startswith("cannot decode")
    assert pd.isna(store.loc[broken.hq_sha256, "caption"])
    rows = _ok_rows(dataset)
    assert rows.loc[rows["hq_sha256"] == broken.hq_sha256, "caption"].isna().all()
    assert rows.loc[rows["hq_sha256"] != broken.hq_sha256, "caption"].notna().all()


def test_captions_file_import(dataset, tmp_path):
    rows = _ok_rows(dataset)
    per_image = rows.drop_duplicates("hq_sha256").sort_values("source").reset_index(drop=True)
    csv = tmp_path / "mine.csv"
    pd.DataFrame(
        {
            "source": [per_image["source"][0], per_image["source"][1], "/no/such/photo.png"],
            "caption": ["a man  in a\tspace suit", "a cat, sleeping: on a rug", "lost"],
        }
    ).to_csv(csv, index=False)
    result = _run(["caption", "--manifests", str(dataset), "--captions-file", str(csv)])
    assert result.exit_code == 0, result.output
    assert "2 captioned" in result.output and "1 captions-file rows unmatched" in result.output

    parquet = tmp_path / "mine.parquet"
    pd.DataFrame({"hq_sha256": [per_image["hq_sha256"][2]], "caption": ["a cup of coffee"]}).to_parquet(
        parquet
    )
    assert _run(["caption", "--manifests", str(dataset), "--captions-file", str(parquet)]).exit_code == 0

    rows = _ok_rows(dataset)
    expect = {
        per_image["hq_sha256"][0]: "a man in a space suit",
        per_image["hq_sha256"][1]: "a cat, sleeping: on a rug",
        per_image["hq_sha256"][2]: "a cup of coffee",
    }
    assert (rows["caption"] == rows["hq_sha256"].map(expect)).sum() == 12
    assert rows[~rows["hq_sha256"].isin(expect)]["caption"].isna().all()
    store = load_captions(dataset)
    assert set(store["model"]) == {"captions-file:mine.csv", "captions-file:mine.parquet"}


def test_offline_hub_model_gives_short_error(dataset, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(
        cli, ["caption", "--manifests", str(dataset), "--model", "Salesforce/blip-image-captioning-large"]
    )
    assert result.exit_code != 0
    assert "--model /path/to/local/blip" in result.output and "HF_HUB_OFFLINE" in result.output
    assert "Traceback" not in result.output
    assert not (dataset / "captions.parquet").exists()

    result = CliRunner().invoke(cli, ["caption", "--manifests", str(dataset), "--model", "/no/such/blip"])
    assert result.exit_code != 0 and "does not exist" in result.output and "Traceback" not in result.output


def test_export_csv_round_trip(dataset, tmp_path):
    rows = _ok_rows(dataset)
    hashes = sorted(set(rows["hq_sha256"]))
    captions = pd.DataFrame({"hq_sha256": hashes[:3], "caption": ["a man", "a cat: close up", "a red cup"]})
    captions.to_parquet(tmp_path / "c.parquet")
    imported = _run(["caption", "--manifests", str(dataset), "--captions-file", str(tmp_path / "c.parquet")])
    assert imported.exit_code == 0, imported.output

    manifest = dataset / "noisy.parquet"
    out, root = tmp_path / "daclip_train.csv", tmp_path / "images"
    result = _run(["export-csv", "--manifest", str(manifest), "--out", str(out), "--image-root", str(root)])
    assert result.exit_code == 0, result.output
    assert "skipped 2 rows without a caption" in result.output

    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["filepath", "title"] and len(table) == 6
    frame = read_manifest(manifest).set_index("lq_sha256")
    by_hash = dict(zip(captions["hq_sha256"], captions["caption"]))
    for filepath, title in zip(table["filepath"], table["title"]):
        caption, degradation = title.rsplit(": ", 1)
        data = Path(filepath).read_bytes()
        row = frame.loc[hashlib.sha256(data).hexdigest()]  # the file is the LQ member, byte for byte
        assert Path(filepath) == root.resolve() / "noisy" / "LQ" / f"{row['key']}.png"
        assert degradation == row["degradation"] == "noisy"
        assert caption == by_hash[row["hq_sha256"]]

    args = ["export-csv", "--manifest", str(manifest), "--out", str(tmp_path / "x.csv"), "--image-root", str(root),
            "--missing-caption", "error"]  # fmt: skip
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code != 0 and "no caption" in refused.output and not (tmp_path / "x.csv").exists()


def test_model_source_resolver(tmp_path, blip_dir):
    from pipelines.common.models import ModelUnavailableError, resolve_source

    hub = resolve_source("Salesforce/blip-image-captioning-large")
    assert hub.kind == "hub" and hub.ref == "Salesforce/blip-image-captioning-large" and not hub.is_local
    assert resolve_source("hf-hub:org/name").ref == "org/name"
    local = resolve_source(str(blip_dir))
    assert local.kind == "local-dir" and local.ref == str(blip_dir.resolve())
    assert resolve_source(f"local-dir:{blip_dir}").ref == local.ref
    snapshot = tmp_path / "snapshots" / ("ab" * 20)
    snapshot.mkdir(parents=True)
    assert resolve_source(str(snapshot)).revision == "ab" * 20  # a hub-cache folder knows its commit
    for missing in ("/no/such/blip", "./blip", f"local-dir:{tmp_path / 'nope'}"):
        with pytest.raises(ModelUnavailableError, match="does not exist"):
            resolve_source(missing)


DECODE_ONE = """
import json, sys
import numpy as np
from pipelines.caption.blip import ImageRef, ShardImages
ref = ImageRef(*json.loads(sys.argv[1]))
as_float = lambda images, return_tensors: {"pixel_values": [np.asarray(images[0], dtype=np.float32)]}  # as BLIP's
_, pixels, error = ShardImages((ref,), as_float)[0]
print(json.dumps({"error": error}))
"""


def test_pixel_bomb_member_is_an_error_row_with_bounded_memory(dataset, captioner):
    ref = plan_images(list_manifests(dataset)).refs[0]
    rewrite_tar(Path(ref.shard_path), replace={ref.member: pixel_bomb_png(12_000, 12_000)})
    ref = next(r for r in plan_images(list_manifests(dataset)).refs if r.hq_sha256 == ref.hq_sha256)
    # what each DataLoader worker of the caption command does with the member, in a fresh process
    args = json.dumps([ref.hq_sha256, ref.shard_path, ref.member, ref.offset, ref.size])
    run = run_measured([sys.executable, "-c", DECODE_ONE, args], timeout=60)
    decoded = {**json.loads(run["stdout"]), "rss_mb": run["rss_mb"]}
    assert "too many pixels: 12000x12000" in decoded["error"]
    assert decoded["rss_mb"] < 400, decoded  # decoding it would take over 2 GB (RGB, then float32)
    report = caption_manifests(dataset, runtime=CaptionRuntime(batch_size=8, workers=0), captioner=captioner)
    assert report.errors == 1 and report.captioned == 3
    assert "too many pixels" in load_captions(dataset).set_index("hq_sha256").loc[ref.hq_sha256, "error"]


def test_broken_shard_and_unwritable_store_are_one_line(dataset, captioner, monkeypatch):
    monkeypatch.setattr(Captioner, "load", classmethod(lambda cls, *a, **k: captioner))
    (dataset / "captions.parquet").mkdir()  # the store cannot be written: an OSError
    result = CliRunner().invoke(cli, ["caption", "--manifests", str(dataset), "--workers", "0"])
    lines = error_lines(result.stderr)
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: [Errno"), result.output
    (dataset / "captions.parquet").rmdir()
    shard = Path(plan_images(list_manifests(dataset)).refs[0].shard_path)
    shard.write_bytes(b"not a tar" * 100)  # TarError
    result = CliRunner().invoke(cli, ["caption", "--manifests", str(dataset), "--workers", "0"])
    lines = error_lines(result.stderr)
    assert result.exit_code == 1 and len(lines) == 1 and "invalid header" in lines[0], result.output
