from pipelines.distribute.progress import ignore_progress
from pipelines.manifest.schema import read_manifest
from pipelines.quality.sources import CleanImage, ScoreSpec, clean_images, score_spec, specs_for


def test_each_clean_image_once_in_hash_order(dataset):
    frames = [read_manifest(dataset / "manifests" / f"{t}.parquet", status=None) for t in ("noisy", "jpeg-compressed")]
    images = clean_images(frames)
    hashes = [i.hq_sha256 for i in images]
    assert hashes == sorted(set(hashes))
    assert len(hashes) == 10  # ten crops, two tasks x two variants each; the broken file has none
    assert all(i.member.endswith(".hq.png") for i in images)


def test_specs_are_per_shard_and_bounded():
    images = [CleanImage(f"{i:02d}", f"/s/{i % 3}.tar", f"k{i}.hq.png") for i in range(10)]
    specs = specs_for(images, chunk=2)
    assert [s.shard_path for s in specs] == ["/s/0.tar"] * 2 + ["/s/1.tar"] * 2 + ["/s/2.tar"] * 2
    assert sorted(i.hq_sha256 for s in specs for i in s.images) == sorted(i.hq_sha256 for i in images)
    assert max(len(s.images) for s in specs) == 2


def test_a_member_that_is_not_there_is_an_error_result(dataset):
    shard = sorted(read_manifest(dataset / "manifests" / "noisy.parquet")["shard_path"])[0]
    results = score_spec(ScoreSpec(shard, (CleanImage("ab", shard, "nokey.hq.png"),)), ignore_progress)
    assert results[0].scores is None and "member not in the shard" in results[0].error
