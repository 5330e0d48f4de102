"""``daclip export --onnx``: the DA-CLIP image side and the restoration network as ONNX graphs.

- DA-CLIP (a ``train-daclip`` run or checkpoint folder, or a released file): ``image`` (B x 3 x S x S,
  already preprocessed: shorter side resized to S, centre crop, OpenAI mean/std, as
  :meth:`daclip.controller.model.DaCLIP.preprocess_tensor` does) -> ``content``, ``degradation``
  (B x D). The resize stays outside the graph: it depends on the photo's size.
- IR-SDE restorer: one network call, ``x_t``, ``mu`` (B x 3 x T x T, T = ``--tile``), ``t`` (B,),
  and for a DA-CLIP-conditioned U-Net ``content``, ``degradation`` (B x D) -> the network output
  (noise or x0, as the checkpoint's SDE says). The sampling loop and tiling stay in Python; tiles of
  the exported size go through it any number at a time (batch is dynamic).

Every export is checked against PyTorch with onnxruntime on random inputs of two batch sizes; the
largest relative error is written beside the graph in ``<out>.json`` with what the graph expects.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch

from pipelines.common.files import write_text_atomic

from .loading import load, load_restoration

__all__ = ["ExportReport", "export_daclip", "export_restorer", "command"]

OPSET = 17


@dataclass
class ExportReport:
    path: Path
    kind: str
    inputs: dict[str, list[int | str]]
    outputs: list[str]
    max_relative_error: float

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "onnx": self.path.name, "opset": OPSET, "inputs": self.inputs,
                "outputs": self.outputs, "max_relative_error_vs_torch": self.max_relative_error}


class _ImageSide(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.encode_image(image)


def _onnx_session(path: Path) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise click.ClickException("checking the export needs onnxruntime: pip install onnxruntime") from None
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _export(module: torch.nn.Module, example: dict[str, torch.Tensor], outputs: list[str], out: Path,
            make_inputs: Callable[[int], dict[str, torch.Tensor]], kind: str) -> ExportReport:
    """Trace ``module`` on ``example`` (batch dynamic), write ``out`` atomically, compare with onnxruntime."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    dynamic = {name: {0: "batch"} for name in [*example, *outputs]}
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused attention kernel has no ONNX form
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # shapes are fixed per export (tile, CLIP size): the tracer's warnings about constants hold
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(module, tuple(example.values()), str(tmp), input_names=list(example),
                              output_names=outputs, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
        os.replace(tmp, out)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        tmp.unlink(missing_ok=True)
    session = _onnx_session(out)
    worst = 0.0
    for batch in (1, 3):
        inputs = make_inputs(batch)
        with torch.no_grad():
            expected = module(*inputs.values())
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
        for ref, onnx_out in zip(expected, got):
            ref = ref.float().numpy()
            worst = max(worst, float(np.abs(ref - onnx_out).max() / max(np.abs(ref).max(), 1e-12)))
    shapes = {name: ["batch", *tensor.shape[1:]] for name, tensor in example.items()}
    report = ExportReport(out, kind, shapes, outputs, worst)
    write_text_atomic(json.dumps(report.record(), indent=2) + "\n", out.with_suffix(".json"))
    return report


def export_daclip(ckpt: str | os.PathLike, out: str | os.PathLike, seed: int = 0) -> ExportReport:
    model = load(ckpt).eval()
    size = int(model.image_size)
    gen = torch.Generator().manual_seed(seed)

    def make_inputs(batch: int) -> dict[str, torch.Tensor]:
        return {"image": torch.randn(batch, 3, size, size, generator=gen)}

    return _export(_ImageSide(model).eval(), make_inputs(1), ["content", "degradation"], Path(out), make_inputs,
                   "daclip-image")


class _OneCall(torch.nn.Module):
    """The U-Net with the conditioning inputs only when it has them (ONNX has no optional inputs)."""

    def __init__(self, net: torch.nn.Module, conditioned: bool):
        super().__init__()
        self.net, self.conditioned = net, conditioned

    def forward(self, x_t: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, *embeddings: torch.Tensor) -> torch.Tensor:
        content, degradation = embeddings if self.conditioned else (None, None)
        return self.net(x_t, mu, t, content, degradation)


def export_restorer(ckpt: str | os.PathLike, out: str | os.PathLike, tile: int = 256, weights: str = "ema",
                    seed: int = 0) -> ExportReport:
    loaded = load_restoration(ckpt)
    net = loaded.inference_net(weights).eval()
    unet = loaded.config.unet
    conditioned = bool(unet.conditioned)
    gen = torch.Generator().manual_seed(seed)

    def make_inputs(batch: int) -> dict[str, torch.Tensor]:
        inputs = {"x_t": torch.rand(batch, 3, tile, tile, generator=gen),
                  "mu": torch.rand(batch, 3, tile, tile, generator=gen),
                  "t": torch.randint(1, loaded.sde.T + 1, (batch,), generator=gen)}
        if conditioned:
            inputs["content"] = torch.randn(batch, unet.context_dim, generator=gen)
            inputs["degradation"] = torch.randn(batch, unet.context_dim, generator=gen)
        return inputs

    return _export(_OneCall(net, conditioned).eval(), make_inputs(1), ["output"], Path(out), make_inputs,
                   "irsde-step")


def _is_daclip(ckpt: str) -> bool:
    from .runtime.checkpoint import load_checkpoint

    if os.path.isfile(ckpt):
        from .convert.command import detect_kind, read_state

        return detect_kind(read_state(ckpt), ckpt) == "daclip"
    _, config, _ = load_checkpoint(ckpt)
    return "model" in config and config["model"].get("format", "").startswith("daclip/")


@click.command("export")
@click.option("--ckpt", required=True, help="A train-daclip or train-restore run or checkpoint folder (or a "
                                            "released file).")
@click.option("--onnx", "onnx_out", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write "
              "(a .json beside it says what it expects).")
@click.option("--tile", type=click.IntRange(min=16), default=256, show_default=True,
              help="Restorers: the tile size the graph takes (restore tiles of this size).")
@click.option("--weights", type=click.Choice(["ema", "net"]), default="ema", show_default=True)
def command(ckpt: str, onnx_out: str, tile: int, weights: str) -> None:
    """Export the DA-CLIP image side or one restoration network call as ONNX, checked with onnxruntime."""
    try:
        if _is_daclip(ckpt):
            report = export_daclip(ckpt, onnx_out)
        else:
            report = export_restorer(ckpt, onnx_out, tile=tile, weights=weights)
    except (FileNotFoundError, ValueError) as exn:
        raise click.ClickException(str(exn)) from None
    click.echo(f"wrote {report.path} ({report.kind}); max relative error vs PyTorch "
               f"{report.max_relative_error:.2e}")
