import os
import shutil

import numpy as np
import pandas as pd
import pytest

from pipelines.manifest.schema import COLUMNS as SCHEMA_COLUMNS
from pipelines.manifest.schema import read_manifest
from pipelines.quality.gate import DEFAULT_RULE, parse_rule
from pipelines.quality.run import REJECT, score_manifests
from pipelines.quality.score import COLUMNS


def test_scores_become_columns_of_a_manifest_that_reads_like_the_original(dataset, tmp_path):
    manifest = dataset / "manifests" / "noisy.parquet"
    report = score_manifests([manifest], tmp_path / "scored")
    original = read_manifest(manifest, status=None)
    scored = read_manifest(tmp_path / "scored" / "noisy.parquet", status=None)  # validates
    assert list(scored.columns) == [*SCHEMA_COLUMNS, *COLUMNS, REJECT, "shard_path"]
    assert scored["key"].tolist() == original["key"].tolist()
    assert scored["shard_path"].tolist() == original["shard_path"].tolist()  # shards resolve from the new folder
    has_hq = original["hq_sha256"].notna() & (original["status"] == "ok")
    assert report.images == original.loc[has_hq, "hq_sha256"].nunique() == report.scored
    assert scored.loc[has_hq, "q_phash"].str.fullmatch("[0-9a-f]{16}").all()
    assert scored.loc[~has_hq, list(COLUMNS)].isna().all().all()  # the broken input's row
    assert scored["q_niqe"].isna().all()  # 40x40 crops: NIQE needs two 96x96 blocks
    # variants of one clean image carry the same scores
    assert (scored[has_hq].groupby("hq_sha256")["q_blur"].nunique() == 1).all()


def test_output_is_byte_identical_for_any_worker_count(dataset, tmp_path):
    paths = [dataset / "manifests" / "noisy.parquet", dataset / "manifests" / "jpeg-compressed.parquet"]
    rule = parse_rule("q_blur > 0.3")
    for workers in (1, 2):
        score_manifests(paths, tmp_path / f"w{workers}", rule=rule, workers=workers)
    for path in paths:
        assert (tmp_path / "w1" / path.name).read_bytes() == (tmp_path / "w2" / path.name).read_bytes()


def test_the_gate_drops_every_degraded_copy_and_says_why(graded_dataset, tmp_path):
    manifest = graded_dataset / "manifests" / "noisy.parquet"
    report = score_manifests([manifest], tmp_path, rule=parse_rule(DEFAULT_RULE), drop=True)
    kept = read_manifest(tmp_path / "noisy.parquet")
    assert sorted({os.path.basename(s) for s in kept["source"]}) == ["astronaut.png", "camera.png", "chelsea.png"]
    assert kept[REJECT].isna().all() and len(kept) == 6
    assert report.rejected == report.dropped == 18 and report.rows == 24
    assert dict(report.reasons) == {"q_blur > 0.5": 6, "q_sigma > 5": 6, "q_blockiness > 1.5": 6}
    assert report.images == 12 and "6 x q_sigma > 5" in report.format()


def test_marking_keeps_every_row(graded_dataset, tmp_path):
    manifest = graded_dataset / "manifests" / "noisy.parquet"
    score_manifests([manifest], tmp_path, rule=parse_rule("q_sigma > 5"))
    scored = pd.read_parquet(tmp_path / "noisy.parquet")
    noisy = scored["source"].str.endswith("_noise15.png")
    assert len(scored) == 24 and (scored.loc[noisy, REJECT] == "q_sigma > 5").all()
    assert scored.loc[~noisy, REJECT].isna().all()


def test_a_missing_shard_is_counted_not_fatal(dataset, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    frame = read_manifest(copy / "manifests" / "noisy.parquet")
    lost = sorted(frame["shard_path"].unique())[0]
    os.remove(lost)
    report = score_manifests([copy / "manifests" / "noisy.parquet"], tmp_path / "out",
                             rule=parse_rule("q_blur > 0.99"))
    in_lost = frame.loc[frame["shard_path"] == lost, "hq_sha256"].nunique()
    assert len(report.errors) == in_lost > 0 and report.scored == report.images - in_lost
    assert all("cannot read the shard" in line for line in report.errors)
    assert report.not_judged >= in_lost
    scored = read_manifest(tmp_path / "out" / "noisy.parquet")
    assert np.isnan(scored.loc[scored["shard_path"] == lost, "q_blur"]).all()


def test_refuses_to_overwrite_its_input(dataset):
    with pytest.raises(ValueError, match="another --out"):
        score_manifests([dataset / "manifests" / "noisy.parquet"], dataset / "manifests")
