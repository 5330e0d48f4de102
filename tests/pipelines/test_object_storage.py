"""Object storage: synthesize to ``s3://`` on a local moto server, verify, stats, train from it, resume.

The server (the session fixture ``s3`` of ``tests/pipelines/conftest.py``) listens on 127.0.0.1
only, with dummy credentials. Remote objects are compared byte for byte with the local run of the same config.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipelines.synthesize import synthesize
from tests.pipelines.conftest import BUCKET
from tests.pipelines.small_dataset import config
from tests.pipelines.test_ray import TIMING, snapshot

pytest.importorskip("s3fs", reason="object-storage tests need s3fs (pip install -e '.[dev]')")
pytest.importorskip("moto.server", reason="object-storage tests need moto[server] (pip install -e '.[dev]')")


def remote_snapshot(fs, prefix: str) -> dict[str, bytes | dict]:
    files: dict[str, bytes | dict] = {}
    fs.invalidate_cache()
    for key in sorted(fs.find(f"{BUCKET}/{prefix}")):
        rel = key[len(f"{BUCKET}/{prefix}/"):]
        data = fs.cat_file(key)
        if rel.endswith(".json") and (rel.startswith("manifests/") or rel.endswith("_stats.json")):
            files[rel] = {k: v for k, v in json.loads(data).items() if k not in TIMING}
        else:
            files[rel] = data
    return files


def test_synthesize_to_s3_is_byte_identical_then_verify_and_stats_read_it(s3, dataset, inputs):
    from pipelines.cli import cli

    url = f"s3://{BUCKET}/run"
    report = synthesize(config(), input=inputs, out=f"{url}/data", manifests=f"{url}/manifests")
    assert report.manifests and all(m.startswith(f"{url}/manifests/") for m in report.manifests)
    ours, local = remote_snapshot(s3, "run"), snapshot(dataset)
    assert sorted(ours) == sorted(local) and any(k.endswith(".tar") for k in ours)
    for rel in local:
        assert ours[rel] == local[rel], rel

    runner = CliRunner()
    result = runner.invoke(cli, ["verify", "--manifest", f"{url}/manifests/noisy.parquet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["stats", "--manifest-dir", f"{url}/manifests"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "missing" not in result.output

    from pipelines.stats import dataset_stats

    stats = dataset_stats([f"{url}/manifests/noisy.parquet"])
    assert stats["tasks"]["noisy"]["missing_shards"] == 0 and stats["totals"]["shard_bytes"] > 0

    # a corrupted object is caught by verify
    tar = next(k for k in sorted(s3.find(f"{BUCKET}/run/data/noisy")) if k.endswith(".tar"))
    good = s3.cat_file(tar)
    s3.pipe_file(tar, good[:-1024])
    try:
        result = runner.invoke(cli, ["verify", "--manifest", f"{url}/manifests/noisy.parquet"])
        assert result.exit_code != 0 and "size" in result.output
    finally:
        s3.pipe_file(tar, good)


def test_a_run_killed_mid_upload_resumes_to_the_same_objects(s3, dataset, inputs, monkeypatch):
    from pipelines import staging

    url = f"s3://{BUCKET}/killed"
    real = staging.remote.put_file
    calls = {"n": 0}

    def dying_put(local, target):
        calls["n"] += 1
        if calls["n"] == 5:  # the second shard: its tar is up, its parquet and marker are not
            raise ConnectionError("injected: upload cut off")
        real(local, target)

    monkeypatch.setattr(staging.remote, "put_file", dying_put)
    with pytest.raises(ConnectionError):
        synthesize(config(), input=inputs, out=f"{url}/data", manifests=f"{url}/manifests")
    monkeypatch.setattr(staging.remote, "put_file", real)
    half = remote_snapshot(s3, "killed")
    markers = [k for k in half if k.endswith("_stats.json")]
    assert len(markers) == 1 and not any(k.startswith("manifests/") for k in half)

    report = synthesize(config(), input=inputs, out=f"{url}/data", manifests=f"{url}/manifests")
    assert report.shards_skipped == 1
    ours, local = remote_snapshot(s3, "killed"), snapshot(dataset)
    assert sorted(ours) == sorted(local)
    for rel in local:
        assert ours[rel] == local[rel], rel


def test_train_daclip_streams_shards_from_s3(s3, daclip_data_s3, tmp_path):
    from daclip.cli import train_daclip
    from tests.daclip.conftest import DACLIP_TRAIN_ARGS

    args = list(DACLIP_TRAIN_ARGS)
    args[args.index("--steps") + 1] = "2"
    args[args.index("--save-every") + 1] = "2"
    args[args.index("--warmup") + 1] = "1"
    result = CliRunner().invoke(train_daclip, ["--shards", daclip_data_s3, *args, "--out", str(tmp_path / "run")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads("{" + result.output.strip().rsplit("{", 1)[-1])  # after the progress bar
    assert summary["final_step"] == 2, result.output


@pytest.fixture(scope="module")
def daclip_data_s3(s3) -> str:
    from pipelines.cli import cli

    url = f"s3://{BUCKET}/daclip"
    result = CliRunner().invoke(cli, ["synthesize", "--task", "noisy", "--variants", "2", "--max-side", "64",
                                      "--out", f"{url}/data", "--manifests", f"{url}/manifests", "--workers", "1",
                                      "--seed", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return f"{url}/manifests/noisy.parquet"
