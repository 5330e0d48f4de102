"""BLIP on a tiny random model: batching, prompts, model sources, the guarded decoder."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pipelines.caption.blip import Captioner
from pipelines.caption.config import CaptionRuntime
from pipelines.caption.plan import list_manifests, plan_images
from pipelines.caption.run import caption_manifests
from pipelines.caption.store import load_captions
from pipelines.cli import cli
from tests.pipelines.hostile import pixel_bomb_png, rewrite_tar, run_measured


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


def test_offline_hub_model_gives_short_error(dataset, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(
        cli, ["caption", "--manifest-dir", str(dataset), "--model", "Salesforce/blip-image-captioning-large"]
    )
    assert result.exit_code != 0
    assert "--model /path/to/local/blip" in result.output and "HF_HUB_OFFLINE" in result.output
    assert "Traceback" not in result.output
    assert not (dataset / "captions.parquet").exists()

    result = CliRunner().invoke(cli, ["caption", "--manifest-dir", str(dataset), "--model", "/no/such/blip"])
    assert result.exit_code != 0 and "does not exist" in result.output and "Traceback" not in result.output


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
