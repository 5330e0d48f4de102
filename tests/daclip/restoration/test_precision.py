"""Inference modes: channels_last matches fp32 closely, bf16 stays within a bounded drift, fp16 on a
CPU and unknown precisions are refused with one line; outputs come back as float32."""

from __future__ import annotations

import pytest
import torch

from daclip.restoration.model import create_model
from daclip.restoration.precision import InferenceMode, prepare


@pytest.fixture(scope="module")
def net_and_inputs():
    torch.manual_seed(0)
    _, net = create_model("tiny", context_dim=8, seed=1)
    net.eval()
    x, mu = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    return net, (x, mu, torch.tensor([3, 40]), torch.randn(2, 8), torch.randn(2, 8))


def drift(net, inputs, mode: InferenceMode) -> float:
    reference = prepare(net, InferenceMode(), "cpu")(*inputs)
    out = prepare(net, mode, "cpu")(*inputs)
    assert out.dtype == torch.float32 and out.shape == reference.shape
    return float((out - reference).abs().max() / reference.abs().max())


def test_channels_last_is_fp32(net_and_inputs):
    assert drift(*net_and_inputs, InferenceMode(channels_last=True)) < 1e-5


def test_bf16_drift_is_bounded(net_and_inputs):
    value = drift(*net_and_inputs, InferenceMode("bf16"))
    assert 0 < value < 0.05  # bfloat16 keeps 8 mantissa bits: visible but small


def test_refusals():
    with pytest.raises(ValueError, match="precision must be one of"):
        InferenceMode("int8")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        prepare(torch.nn.Identity(), InferenceMode("fp16"), "cpu")
    assert InferenceMode("bf16", compile=True, channels_last=True).name == "bf16+channels_last+compile"


def test_restore_command_modes(tmp_path):
    import numpy as np
    from click.testing import CliRunner
    from PIL import Image

    from daclip.cli import cli
    from daclip.restoration.model import EMA, save_restoration

    config, net = create_model("tiny", context_dim=None, seed=2)
    save_restoration(tmp_path / "restore", net, EMA(net, 0.9, 1), config)
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(1).random((40, 48, 3)) * 255).astype(np.uint8)).save(photo)
    outputs = {}
    for name, flags in {"fp32": [], "bf16": ["--precision", "bf16", "--channels-last"]}.items():
        result = CliRunner().invoke(cli, ["restore", str(photo), "--ckpt", str(tmp_path / "restore"), "--steps", "2",
                                          "--out", str(tmp_path / name), *flags])
        assert result.exit_code == 0, result.output
        outputs[name] = np.asarray(Image.open(tmp_path / name / "photo.png")).astype(float)
    assert outputs["fp32"].shape == (40, 48, 3)
    mse = float(((outputs["fp32"] - outputs["bf16"]) ** 2).mean())
    assert mse < 255**2 * 10 ** (-35 / 10)  # bf16 stays within 35 dB PSNR of fp32
    refused = CliRunner().invoke(cli, ["restore", str(photo), "--ckpt", str(tmp_path / "restore"), "--precision",
                                       "fp16", "--out", str(tmp_path / "x")])
    assert refused.exit_code == 1 and "needs a CUDA device" in refused.output
