"""Object storage: synthesize to ``s3://`` on a local moto server, verify, stats, train from it, resume.

The server (the session fixture ``s3`` of ``tests/pipelines/conftest.py``) listens on 127.0.0.1
only, with dummy credentials. Remote objects are compared byte for byte with the local run of the same config.
"""

from __future__ import annotations

import io
import json
import os
import time

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.build.plan import BuildOptions
from pipelines.synthesize.command import synthesize
from tests.pipelines.conftest import BUCKET
from tests.pipelines.distribute.test_ray import TIMING, snapshot
from tests.pipelines.small_dataset import config

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
    report = synthesize(config(), BuildOptions(out=f"{url}/data", manifests=f"{url}/manifests"), input=inputs)
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

    from pipelines.tools.stats import dataset_stats

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
    from pipelines.build import staging

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
        synthesize(config(), BuildOptions(out=f"{url}/data", manifests=f"{url}/manifests"), input=inputs)
    monkeypatch.setattr(staging.remote, "put_file", real)
    half = remote_snapshot(s3, "killed")
    markers = [k for k in half if k.endswith("_stats.json")]
    assert len(markers) == 1 and not any(k.startswith("manifests/") for k in half)

    report = synthesize(config(), BuildOptions(out=f"{url}/data", manifests=f"{url}/manifests"), input=inputs)
    assert report.shards_skipped == 1
    ours, local = remote_snapshot(s3, "killed"), snapshot(dataset)
    assert sorted(ours) == sorted(local)
    for rel in local:
        assert ours[rel] == local[rel], rel


def test_train_daclip_streams_shards_from_s3(s3, daclip_data_s3, tmp_path):
    from daclip.controller.train_command import command as train_daclip
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
def daclip_data_s3(s3_env) -> str:
    from pipelines.cli import cli

    url = f"s3://{BUCKET}/daclip"
    result = CliRunner().invoke(cli, ["synthesize", "--task", "noisy", "--variants", "2", "--max-side", "64",
                                      "--out", f"{url}/data", "--manifest-dir", f"{url}/manifests", "--workers", "1",
                                      "--seed", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return f"{url}/manifests/noisy.parquet"


# --- inputs on object storage ---


def upload_folder(fs, local, prefix: str) -> str:
    """Every file under ``local`` to ``s3://datasets/<prefix>/...``; returns the prefix URL."""
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        fs.put_file(str(path), f"{BUCKET}/{prefix}/{path.relative_to(local).as_posix()}")
    fs.invalidate_cache()
    return f"s3://{BUCKET}/{prefix}"


SOURCE_FIELDS = ("source", "gt_source")
NAMED_BY_SOURCES = ("spec_hash", "tar_sha256", "tar_bytes")  # stats fields that hash the source strings


def content(root) -> dict[str, object]:
    """Every output file under ``root`` with the recorded source strings taken out: tar members
    (their JSON without sources), Parquet rows without sources, markers without timing and hashes."""
    import tarfile

    import pandas as pd

    out: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock")):
        rel = str(path.relative_to(root))
        if path.suffix == ".tar":
            with tarfile.open(path) as tar:
                members = []
                for info in tar.getmembers():
                    data = tar.extractfile(info).read()
                    if info.name.endswith(".json"):
                        data = {k: v for k, v in json.loads(data).items() if k not in SOURCE_FIELDS}
                    members.append((info.name, data))
            out[rel] = members
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path).drop(columns=list(SOURCE_FIELDS), errors="ignore").astype(object)
            records = frame.where(frame.notna(), None).to_dict("records")
            out[rel] = [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in r.items()} for r in records]
        elif path.name.endswith("_stats.json"):
            out[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING + NAMED_BY_SOURCES}
        elif path.parent.name == "manifests" and path.suffix == ".json":
            record = json.loads(path.read_text())
            out[rel] = {k: record[k] for k in ("rows", "ok", "errors", "shards")}
        else:
            out[rel] = path.read_bytes()
    return out


def test_synthesize_input_on_s3_gives_the_local_output_but_the_source_strings(s3, dataset, inputs, tmp_path):
    from pipelines.build.sources import list_sources

    url = upload_folder(s3, inputs, "photos")
    s3.pipe_file(f"{BUCKET}/photos/.hidden.png", b"x")
    s3.pipe_file(f"{BUCKET}/photos/notes.txt", b"not an image")
    report = synthesize(config(), BuildOptions(out=tmp_path / "data", manifests=tmp_path / "manifests"), input=f"{url}/")
    assert report.n_listed == len(list(inputs.iterdir()))
    assert content(tmp_path) == content(dataset)
    rows = pd.read_parquet(tmp_path / "manifests/noisy.parquet")
    assert all(s.startswith(f"{url}/") for s in rows["source"])

    # a glob, a list file (relative entries: relative to the list's folder) and a Parquet of paths
    assert [s.path for s in list_sources(f"{url}/astro*.png")] == [f"{url}/astronaut{i}.png" for i in range(3)]
    s3.pipe_file(f"{BUCKET}/lists/some.txt", b"../photos/coffee0.png\n# a comment\ns3://datasets/photos/rocket1.png\n")
    assert [s.path for s in list_sources(f"s3://{BUCKET}/lists/some.txt")] == [f"{url}/coffee0.png",
                                                                            f"{url}/rocket1.png"]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"path": ["../photos/chelsea1.png"]}), buffer)
    s3.pipe_file(f"{BUCKET}/lists/some.parquet", buffer.getvalue())
    assert [s.path for s in list_sources(f"s3://{BUCKET}/lists/some.parquet")] == [f"{url}/chelsea1.png"]
    with pytest.raises(FileNotFoundError, match="no image objects"):
        list_sources(f"s3://{BUCKET}/lists/")


def test_an_input_object_over_the_limit_is_refused_unread(s3, monkeypatch):
    from pipelines.common import remote
    from pipelines.common.files import read_regular
    from pipelines.common.images import ImageError, load_image

    s3.pipe_file(f"{BUCKET}/big/huge.png", b"\x89PNG" + b"\x00" * 5000)
    monkeypatch.setattr(remote, "DEFAULT_MAX_OBJECT_BYTES", 4096)
    monkeypatch.setattr(remote.read_bounded, "__defaults__", (4096,))
    with pytest.raises(remote.ObjectTooLarge, match="over the input limit of 4096"):
        read_regular(f"s3://{BUCKET}/big/huge.png")
    with pytest.raises(ImageError, match="over the input limit"):
        load_image(f"s3://{BUCKET}/big/huge.png")


def test_ingest_root_on_s3_gives_the_local_output_but_the_source_strings(s3, photos, tmp_path):
    from pipelines.cli import cli
    from tests.pipelines.ingest.test_command import make_tree

    tree = make_tree(tmp_path / "tree", photos)
    night = np.ascontiguousarray(photos["coffee"][:24, :24] // 4)
    for folder in ("train/rainy/LQ", "night-shots"):  # LQ-only folders: a type without GT/, and unknown
        (tree / folder).mkdir(parents=True)
        cv2.imwrite(str(tree / folder / "n.png"), night)
    url = upload_folder(s3, tree, "universal")
    outputs = {}
    for name, root in (("local", str(tree)), ("s3", url)):
        args = ["ingest", "--root", root, "--out", str(tmp_path / name / "data"),
                "--manifest-dir", str(tmp_path / name / "manifests"), "--shard-size", "3"]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "foggy" in result.output  # the unknown type folder is noted on both
        outputs[name] = content(tmp_path / name)
    assert outputs["s3"] == outputs["local"]
    rows = pd.read_parquet(tmp_path / "s3/manifests/noisy.ingested.parquet")
    assert all(s.startswith(f"{url}/train/noisy/LQ/") for s in rows["source"])
    lq_only = pd.read_parquet(tmp_path / "s3/manifests/unknown.ingested.parquet")
    assert list(lq_only["source"]) == [f"{url}/night-shots/n.png"] and lq_only["hq_sha256"].isna().all()
    result = CliRunner().invoke(cli, ["ingest", "--task", "noisy", "--lq", f"{url}/train/noisy/LQ",
                                      "--hq", f"{url}/train/noisy/GT", "--out", str(tmp_path / "pair/data"),
                                      "--manifest-dir", str(tmp_path / "pair/manifests")])
    assert result.exit_code == 0, result.output


# --- caption on object storage ---


def test_caption_on_s3_equals_local_captions(s3, dataset, tmp_path):
    import shutil

    from pipelines.caption.config import CaptionConfig, CaptionRuntime
    from pipelines.caption.run import caption_manifests
    from tests.pipelines.tiny_blip import build_tiny_blip

    blip = build_tiny_blip(tmp_path / "blip", image_size=32)
    cfg, runtime = CaptionConfig(model=str(blip)), CaptionRuntime(device="cpu", batch_size=2, workers=0)
    shutil.copytree(dataset, tmp_path / "local")
    local = caption_manifests(tmp_path / "local/manifests", cfg, runtime)
    url = upload_folder(s3, dataset, "captioned")
    ours = caption_manifests(f"{url}/manifests", cfg, runtime)
    assert ours.captioned == local.captioned > 4 and ours.errors == 0
    assert ours.store == f"{url}/manifests/captions.parquet"
    assert remote_snapshot(s3, "captioned") == snapshot(tmp_path / "local")
    again = caption_manifests(f"{url}/manifests", cfg, runtime)  # a rerun finds every caption in the store
    assert again.captioned == 0 and again.already_captioned == local.captioned


# --- training streams remote shards ---


def test_train_restore_streams_shards_from_s3(s3, daclip_data_s3, tmp_path):
    from daclip.restoration.train_command import command as train_restore

    micro = tmp_path / "micro.json"
    micro.write_text(json.dumps({"unet": {"nf": 8, "ch_mult": [1, 2], "dim_head": 8, "num_prompts": 4},
                                 "train": {"patch": 16, "batch_size": 2, "lr": 0.001}}))
    result = CliRunner().invoke(train_restore, ["--shards", daclip_data_s3, "--no-daclip", "--model", str(micro),
                                                "--split", "", "--steps", "2", "--workers", "0",
                                                "--out", str(tmp_path / "run")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads("{" + result.output.strip().rsplit("{", 1)[-1])
    assert summary["final_step"] == 2, result.output


# --- one writer per prefix ---


def test_a_second_run_on_a_held_prefix_is_refused_and_a_dead_runs_lock_is_taken_over(s3, inputs, tmp_path):
    import socket

    from pipelines.cli import cli

    url = f"s3://{BUCKET}/locked"
    lock = f"{BUCKET}/locked/data/.make-dataset.lock"
    alive = {"host": socket.gethostname(), "pid": os.getpid(), "token": "t", "started": time.time(),
             "refreshed": time.time()}
    s3.pipe_file(lock, json.dumps(alive).encode())
    args = ["synthesize", "--task", "noisy", "--input", str(inputs), "--out", f"{url}/data",
            "--manifest-dir", f"{url}/manifests", "--shard-size", "4"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "in use by another run" in errors[0] and f"pid {os.getpid()}" in errors[0]
    s3.invalidate_cache()
    assert not s3.exists(f"{BUCKET}/locked/manifests/.make-dataset.lock")  # the refused run let go of what it took

    dead = _dead_pid()
    s3.pipe_file(lock, json.dumps({**alive, "pid": dead}).encode())
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    s3.invalidate_cache()
    assert not [k for k in s3.find(f"{BUCKET}/locked") if k.endswith(".lock")]


def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_store_lock_rules(s3):
    from pipelines.common.locks import OutputLocked
    from pipelines.common.store_locks import is_stale, store_lock

    prefix = f"s3://{BUCKET}/lockrules"
    with store_lock(prefix, part="part-0-of-2"), store_lock(prefix, part="part-1-of-2"):  # parts share
        with pytest.raises(OutputLocked, match="part-0-of-2"), store_lock(prefix, part="part-0-of-2"):
            pass
        with pytest.raises(OutputLocked, match="in use by another run"), store_lock(prefix):  # waits for the parts
            pass
    with store_lock(prefix), pytest.raises(OutputLocked), store_lock(prefix, part="part-0-of-2"):
        pass
    s3.invalidate_cache()
    assert not s3.find(f"{BUCKET}/lockrules")
    now = time.time()
    assert is_stale({"host": "elsewhere", "pid": 1, "refreshed": now - 3600}, stale_after=900, now=now)
    assert not is_stale({"host": "elsewhere", "pid": 1, "refreshed": now - 60}, stale_after=900, now=now)
    assert is_stale({}, now=now)
