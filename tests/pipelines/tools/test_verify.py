"""make-dataset verify: a clean dataset passes; flipped, deleted and truncated shards are caught."""

from __future__ import annotations

import tarfile
from pathlib import Path

from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.tools.verify import verify_manifest
from tests.pipelines.hostile import pixel_bomb_png, regular_member, rewrite_tar, run_cli, sparse_member
from tests.pipelines.small_dataset import fresh_copy


def test_verify_passes_on_a_clean_dataset(dataset):
    report = verify_manifest(dataset / "manifests/noisy.parquet")
    assert report.ok, report.problems
    assert report.samples_checked == 20 and report.shards_checked == 6 and report.rows == 22
    result = CliRunner().invoke(cli, ["verify", "--manifest", str(dataset / "manifests/noisy.parquet")])
    assert result.exit_code == 0 and "OK" in result.output


def _first_hq_offset(tar: Path) -> int:
    import tarfile

    with tarfile.open(tar) as tf:
        info = next(i for i in tf.getmembers() if ".hq." in i.name)
        return info.offset_data + info.size // 2


def test_verify_catches_a_flipped_byte(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    tar = root / "data/noisy/noisy-000001.tar"
    data = bytearray(tar.read_bytes())
    data[_first_hq_offset(tar)] ^= 0x01
    tar.write_bytes(bytes(data))
    report = verify_manifest(root / "manifests/noisy.parquet")
    assert not report.ok
    text = report.format()
    assert "hq.png sha256 does not match" in text and "sha256 differs" in text and "noisy-000001.tar" in text
    result = CliRunner().invoke(cli, ["verify", "--manifest", str(root / "manifests/noisy.parquet")])
    assert result.exit_code != 0 and "FAILED" in result.output


def test_verify_catches_a_deleted_shard(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    (root / "data/noisy/noisy-000002.tar").unlink()
    report = verify_manifest(root / "manifests/noisy.parquet")
    assert any("noisy-000002.tar: shard is missing" in p for p in report.problems)


def test_verify_catches_a_truncated_shard(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    tar = root / "data/jpeg-compressed/jpeg-compressed-000000.tar"
    tar.write_bytes(tar.read_bytes()[: _first_hq_offset(tar) + 100])
    report = verify_manifest(root / "manifests/jpeg-compressed.parquet")
    text = report.format()
    assert not report.ok and "truncated" in text and "samples in the tar" in text


def test_sparse_member_is_a_problem_with_bounded_memory(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    rewrite_tar(root / "data/noisy/noisy-000001.tar", first=[sparse_member("bomb.lq.png", 3 * 2**30)])
    run = run_cli(["verify", "--manifest", root / "manifests/noisy.parquet"])
    assert run["rc"] == 1 and "is a sparse file" in run["stdout"] and "Traceback" not in run["stderr"], run
    assert run["rss_mb"] < 600, run["rss_mb"]


def test_members_are_hashed_in_chunks_and_pixel_bombs_reported(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    shard = root / "data/noisy/noisy-000001.tar"
    with tarfile.open(shard) as tar:
        name = next(n for n in tar.getnames() if ".lq." in n)
    rewrite_tar(shard, replace={name: pixel_bomb_png(12_000, 12_000)})
    big = b"\x00" * (100 * 2**20)  # one large member: never held whole
    rewrite_tar(root / "data/noisy/noisy-000002.tar", first=[regular_member("big.npy", big)])
    run = run_cli(["verify", "--manifest", root / "manifests/noisy.parquet"])
    assert run["rc"] == 1 and f"{name}: too many pixels: 12000x12000" in run["stdout"], run
    assert "1 sample(s) not listed" in run["stdout"] and run["rss_mb"] < 250, run["rss_mb"]
