"""daclip classify on images of the tiny synthesized data set, with the short train-daclip run."""

from __future__ import annotations

import json
import tarfile

import torch
from click.testing import CliRunner

from daclip.cli import cli as daclip_cli
from degradations import NAMES
from pipelines.manifest.schema import read_manifest
from tests.daclip.clirun import invoke_ok

torch.set_num_threads(1)


def test_classify_cli(daclip_run, daclip_data, tmp_path):
    frame = read_manifest(daclip_data["val"])
    with tarfile.open(frame["shard_path"].iloc[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".lq.png"))
        (tmp_path / "lq.png").write_bytes(tar.extractfile(member).read())
    (tmp_path / "broken.png").write_bytes(b"not an image")
    text = invoke_ok(daclip_cli, ["classify", str(tmp_path / "lq.png"), "--ckpt", str(daclip_run)]).output
    assert text.startswith(f"{tmp_path / 'lq.png'}: ") and any(name in text for name in NAMES)
    as_json = json.loads(invoke_ok(daclip_cli, ["classify", str(tmp_path / "lq.png"), "--ckpt", str(daclip_run),
                                              "--json"]).output)
    (pred,) = as_json
    assert set(pred["probabilities"]) == set(NAMES)
    assert abs(sum(pred["probabilities"].values()) - 1) < 1e-4
    assert pred["degradation"] == max(pred["probabilities"], key=pred["probabilities"].get)
    bad = CliRunner().invoke(daclip_cli, ["classify", str(tmp_path / "lq.png"), str(tmp_path / "broken.png"),
                                          "--ckpt", str(daclip_run)])
    assert bad.exit_code == 1 and "broken.png: ERROR" in bad.output and "lq.png: " in bad.output
    missing = CliRunner().invoke(daclip_cli, ["classify", str(tmp_path / "lq.png"), "--ckpt", str(tmp_path / "no")])
    assert missing.exit_code == 1 and "--ckpt" in missing.output
