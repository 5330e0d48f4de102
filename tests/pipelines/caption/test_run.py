"""``caption_manifests``: one caption per clean image, resume, parts, error rows, one-line failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.caption.blip import Captioner
from pipelines.caption.config import CaptionConfig, CaptionRuntime
from pipelines.caption.plan import list_manifests, plan_images
from pipelines.caption.run import caption_manifests
from pipelines.caption.store import load_captions
from pipelines.cli import cli
from tests.pipelines.caption.captioning import TASKS, VARIANTS, CountingCaptioner, ok_rows, run_cli
from tests.pipelines.hostile import error_lines


def test_one_caption_per_unique_clean_image_and_join(dataset, blip_dir):
    before = {p.name: pq.read_table(p) for p in list_manifests(dataset)}
    args = ["caption", "--manifest-dir", str(dataset), "--model", str(blip_dir), "--batch-size", "4",
            "--workers", "1", "--max-new-tokens", "8"]  # fmt: skip
    result = run_cli(args)
    assert result.exit_code == 0, result.output

    store = pq.read_table(dataset / "captions.parquet").to_pandas()
    rows = ok_rows(dataset)
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
    assert (ok_rows(dataset)["caption"] == ok_rows(reference / "manifests")["caption"]).all()

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
    assert ok_rows(dataset)["caption"].isna().all()
    spy = CountingCaptioner(captioner)
    caption_manifests(dataset, runtime=CaptionRuntime(workers=0), captioner=spy)  # folds the parts, joins
    assert spy.seen == 0
    assert sorted(p.name for p in dataset.glob("captions*")) == ["captions.parquet"]
    pd.testing.assert_frame_equal(load_captions(dataset), load_captions(whole / "manifests"))
    assert (ok_rows(dataset)["caption"] == ok_rows(whole / "manifests")["caption"]).all()


def test_empty_output_is_an_error_not_a_caption(dataset, captioner):
    spy = CountingCaptioner(captioner, empty_for=0)
    report = caption_manifests(dataset, runtime=CaptionRuntime(batch_size=8, workers=0), captioner=spy)
    assert report.errors == 1 and report.captioned == 3
    store = load_captions(dataset)
    bad = store[store["caption"].isna()]
    assert len(bad) == 1 and bad["error"].iloc[0] == "empty caption"
    assert ok_rows(dataset)["caption"].notna().sum() == 12
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
    rows = ok_rows(dataset)
    assert rows.loc[rows["hq_sha256"] == broken.hq_sha256, "caption"].isna().all()
    assert rows.loc[rows["hq_sha256"] != broken.hq_sha256, "caption"].notna().all()


def test_broken_shard_and_unwritable_store_are_one_line(dataset, captioner, monkeypatch):
    monkeypatch.setattr(Captioner, "load", classmethod(lambda cls, *a, **k: captioner))
    (dataset / "captions.parquet").mkdir()  # the store cannot be written: an OSError
    result = CliRunner().invoke(cli, ["caption", "--manifest-dir", str(dataset), "--workers", "0"])
    lines = error_lines(result.stderr)
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: [Errno"), result.output
    (dataset / "captions.parquet").rmdir()
    shard = Path(plan_images(list_manifests(dataset)).refs[0].shard_path)
    shard.write_bytes(b"not a tar" * 100)  # TarError
    result = CliRunner().invoke(cli, ["caption", "--manifest-dir", str(dataset), "--workers", "0"])
    lines = error_lines(result.stderr)
    assert result.exit_code == 1 and len(lines) == 1 and "invalid header" in lines[0], result.output
