"""``daclip export --onnx``: the DA-CLIP image side and one IR-SDE network call, each matching
PyTorch under onnxruntime (<= 1e-4 relative) for several batch sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from daclip.cli import cli
from daclip.export import export_restorer
from daclip.loading import load, load_restoration
from daclip.restoration.model import EMA, create_model, save_restoration

ort = pytest.importorskip("onnxruntime")


def test_daclip_image_side(daclip_run, tmp_path):
    out = tmp_path / "daclip.onnx"
    result = CliRunner().invoke(cli, ["export", "--ckpt", str(daclip_run), "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["kind"] == "daclip-image" and record["max_relative_error_vs_torch"] <= 1e-4
    model = load(daclip_run)
    size = model.image_size
    assert record["inputs"]["image"] == ["batch", 3, size, size]
    image = torch.rand(2, 3, 50, 70)  # our own check, beside the exporter's: a real preprocessed batch
    x = model.preprocess_tensor(image)
    with torch.no_grad():
        content, degradation = model.encode_image(x)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})
    for ref, onnx_out in zip((content, degradation), got):
        assert np.abs(ref.numpy() - onnx_out).max() <= 1e-4 * np.abs(ref.numpy()).max()


@pytest.mark.parametrize("context_dim", [None, 8])
def test_restorer_step(tmp_path, context_dim):
    config, net = create_model("tiny", context_dim=context_dim)
    save_restoration(tmp_path / "restore", net, EMA(net, 0.9, 1), config)
    report = export_restorer(tmp_path / "restore", tmp_path / "unet.onnx", tile=32)
    assert report.max_relative_error <= 1e-4
    names = [i.name for i in ort.InferenceSession(str(report.path)).get_inputs()]
    assert names == ["x_t", "mu", "t"] + (["content", "degradation"] if context_dim else [])
    loaded = load_restoration(tmp_path / "restore")
    x, mu, t = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32), torch.tensor([1, 5, 50, 100])
    emb = (torch.randn(4, 8), torch.randn(4, 8)) if context_dim else (None, None)
    with torch.no_grad():
        ref = loaded.inference_net("ema")(x, mu, t, *emb).numpy()
    feeds = {"x_t": x.numpy(), "mu": mu.numpy(), "t": t.numpy()}
    if context_dim:
        feeds.update(content=emb[0].numpy(), degradation=emb[1].numpy())
    got = ort.InferenceSession(str(report.path)).run(None, feeds)[0]
    assert np.abs(ref - got).max() <= 1e-4 * np.abs(ref).max()


def test_bad_checkpoint_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["export", "--ckpt", str(tmp_path / "nothing"), "--onnx", str(tmp_path / "x.onnx")])
    assert result.exit_code == 1 and "Traceback" not in result.output and not (tmp_path / "x.onnx").exists()
