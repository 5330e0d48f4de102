"""Hostile and stale inputs on the daclip side: the trainers and evaluators fail fast with one line,
never hang, never write outside their output, never decode a bomb."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from daclip.cli import cli as daclip_cli
from daclip.controller.train_command import command as train_daclip
from daclip.restoration.train_command import command as train_restore
from pipelines.manifest.schema import read_manifest, write_manifest
from tests.pipelines.hostile import (
    deadline,
    edit_manifest,
    error_lines,
    pixel_bomb_png,
    rewrite_tar,
    run_measured,
)

torch.set_num_threads(1)

MICRO_UNET = {"unet": {"nf": 8, "ch_mult": [1, 2], "dim_head": 8, "num_prompts": 4},
              "train": {"patch": 16, "batch_size": 2, "lr": 0.001}}


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    path = tmp_path_factory.mktemp("micro") / "micro.json"
    path.write_text(json.dumps(MICRO_UNET))
    return path


def _trainer_args(name: str, manifest, micro, out) -> tuple:
    if name == "train-daclip":
        return train_daclip, ["--shards", str(manifest), "--model", "tiny", "--pretrained", "none", "--steps", "2",
                              "--batch-size", "4", "--workers", "0", "--out", str(out)]
    return train_restore, ["--shards", str(manifest), "--no-daclip", "--model", str(micro), "--split", "",
                           "--steps", "2", "--workers", "0", "--out", str(out)]


def _one_line_failure(result) -> str:
    assert result.exit_code == 1, result.output
    lines = error_lines(result.output)
    assert "Traceback" not in result.output
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def _stale(daclip_data, tmp_path):
    """A manifest whose keys are not in its shards (merged before an --overwrite rewrote them)."""
    frame = read_manifest(daclip_data["train"], status=None).drop(columns=["shard_path"])
    frame["shard"] = [str((daclip_data["train"].parent / s).resolve()) for s in frame["shard"]]
    frame["key"] = [k[: k.index("_") + 1] + "0" * 16 + k[k.index("_") + 17:] + str(i) for i, k in
                    enumerate(frame["key"])]
    write_manifest(frame, tmp_path / "stale.parquet")
    return tmp_path / "stale.parquet", "0 of"


def _unknown_name(daclip_data, tmp_path):
    return edit_manifest(daclip_data["train"], tmp_path / "foggy.parquet", degradation="foggy"), "foggy"


def _not_a_tar(daclip_data, tmp_path):
    fake = tmp_path / "fake-000000.tar"
    fake.write_text("this is not a tar file\n" * 100)
    return edit_manifest(daclip_data["train"], tmp_path / "nontar.parquet", shard=str(fake)), "fake-000000.tar"


@pytest.mark.parametrize("trainer", ["train-daclip", "train-restore"])
@pytest.mark.parametrize("make_bad", [_stale, _unknown_name, _not_a_tar], ids=["stale", "unknown-name", "not-a-tar"])
def test_trainers_fail_fast_with_one_line(trainer, make_bad, daclip_data, micro, tmp_path):
    manifest, expected = make_bad(daclip_data, tmp_path)
    command, args = _trainer_args(trainer, manifest, micro, tmp_path / "run")
    with deadline(60):
        result = CliRunner().invoke(command, args)
    assert expected in _one_line_failure(result)


def test_a_stream_with_nothing_usable_stops_after_one_pass(daclip_data, tmp_path):
    """Even past the up-front shard check (--max-bad-fraction 1), a resampled stream that yields
    nothing stops after one pass over its shards instead of spinning."""
    from daclip.data.health import DataStreamError
    from daclip.data.shards import load_index, sample_stream

    index = load_index(daclip_data["train"])
    keys = {k: v for k, v in index.samples.items()}
    stale = type(index)(shards=index.shards, samples={"x" + k: v for k, v in keys.items()})
    with deadline(60), pytest.raises(DataStreamError, match="no usable sample in a full pass"):
        next(iter(sample_stream(stale, resampled=True, max_bad_fraction=1.0)))


def test_pixel_bombs_in_shards_are_never_decoded(daclip_data, tmp_path):
    frame = read_manifest(daclip_data["train"])
    shard = frame["shard_path"].iloc[0]
    bomb = tmp_path / "bomb-000000.tar"
    bomb.write_bytes(Path(shard).read_bytes())
    keys = frame[frame["shard_path"] == shard]["key"]
    rewrite_tar(bomb, {f"{k}.lq.png": pixel_bomb_png(20000, 20000) for k in keys})
    rows = read_manifest(daclip_data["train"], status=None)
    rows = rows[rows["shard_path"] == shard].drop(columns=["shard_path"]).assign(shard=str(bomb))
    write_manifest(rows, tmp_path / "bomb.parquet")
    manifest = tmp_path / "bomb.parquet"
    out = run_measured([sys.executable, "-m", "daclip.cli", "train-daclip", "--shards", str(manifest), "--model",
                        "tiny", "--pretrained", "none", "--steps", "2", "--batch-size", "4", "--workers", "0",
                        "--out", str(tmp_path / "run")], timeout=120)
    assert out["rc"] == 1, out["stderr"][-2000:]
    assert "pixels" in out["stderr"] and "Traceback" not in out["stderr"]
    # the trainer itself peaks near 1 GiB (torch, CLIP); decoding one bomb member would add 1144 MiB
    assert out["rss_mb"] < 1500, out["rss_mb"]


def test_a_rerun_into_an_existing_run_folder_is_refused(daclip_run, daclip_data, daclip_train_args):
    result = CliRunner().invoke(train_daclip, ["--shards", str(daclip_data["train"]), *daclip_train_args,
                                               "--out", str(daclip_run)])
    assert "--resume" in _one_line_failure(result)
    assert (daclip_run / "checkpoints" / "latest").read_text().strip() == "step_00000006"


def test_missing_and_corrupt_checkpoints_are_one_line(daclip_run, daclip_data, tmp_path, micro):
    result = CliRunner().invoke(daclip_cli, ["restore", str(daclip_data["train"]), "--ckpt", str(tmp_path / "nope"),
                                             "--out", str(tmp_path / "o")])
    assert "nope" in _one_line_failure(result)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    (broken / "config.json").write_text("{}")
    result = CliRunner().invoke(daclip_cli, ["classify", str(daclip_data["train"]), "--ckpt", str(broken)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    args = ["--shards", str(daclip_data["train"]), "--daclip", str(tmp_path / "nonexistent"), "--model",
            str(micro), "--split", "", "--steps", "1", "--out", str(tmp_path / "r")]
    assert "nonexistent" in _one_line_failure(CliRunner().invoke(train_restore, args))


def test_evaluate_restore_never_writes_outside_out(daclip_data, tmp_path, micro):
    run = tmp_path / "restorer"
    ok = CliRunner().invoke(train_restore, ["--shards", str(daclip_data["train"]), "--no-daclip", "--model",
                                            str(micro), "--split", "", "--steps", "1", "--workers", "0",
                                            "--out", str(run)])
    assert ok.exit_code == 0, ok.output
    frame = read_manifest(daclip_data["val"], status=None).drop(columns=["shard_path"])
    frame["shard"] = [str((daclip_data["val"].parent / s).resolve()) for s in frame["shard"]]
    frame["key"] = ["../../escaped"] * len(frame)
    write_manifest(frame, tmp_path / "traversal.parquet")
    result = CliRunner().invoke(daclip_cli, ["evaluate-restore", "--shards", str(tmp_path / "traversal.parquet"),
                                             "--split", "", "--ckpt", str(run), "--out", str(tmp_path / "ev" / "o"),
                                             "--steps", "1", "--save-images"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not list(tmp_path.rglob("escaped*"))


def test_fuzzed_shards_and_manifests_fail_in_one_line_or_work(daclip_run, daclip_data, tmp_path):
    """Byte flips and truncations in a shard and a manifest: `daclip evaluate` works or says one line."""
    rng = random.Random(0)
    frame = read_manifest(daclip_data["val"])
    shard = frame["shard_path"].iloc[0]
    original, manifest_bytes = Path(shard).read_bytes(), daclip_data["val"].read_bytes()
    for case in range(8):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        data = bytearray(original if case % 2 == 0 else manifest_bytes)
        if case % 4 < 2:
            for _ in range(20):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            data = data[: rng.randrange(len(data))]
        target_shard = folder / "fuzz-000000.tar"
        target_shard.write_bytes(bytes(data) if case % 2 == 0 else original)
        if case % 2 == 0:
            manifest = edit_manifest(daclip_data["val"], folder / "m.parquet", shard=str(target_shard))
        else:
            manifest = folder / "m.parquet"
            manifest.write_bytes(bytes(data))
        with deadline(60):
            result = CliRunner().invoke(daclip_cli, ["evaluate", "--shards", str(manifest), "--ckpt", str(daclip_run),
                                                     "--workers", "0"])
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
        if result.exit_code:
            assert len([line for line in error_lines(result.output) if line.startswith("Error:")]) == 1
