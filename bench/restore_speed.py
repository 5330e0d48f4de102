"""Restoration network speed per inference mode and tile size, fp32 eager as the baseline in the same run.

For each tile size, a batch of ``--tile-batch`` tiles goes through one network call (one sampling step
of IR-SDE; the whole job of a one-step restorer) under every mode of
:mod:`daclip.restoration.precision` (fp32, channels_last, bf16, compile) and, when onnxruntime is
installed, the ONNX export of the same network (``daclip export``). Reported per mode: megapixels per
second per step (median of ``--repeats`` timed calls after warm-up), speed-up over fp32 eager, and the
drift of the output against fp32 eager (max |diff| / max |fp32|).

    python bench/restore_speed.py [--ckpt demo_weights/restore] [--tiles 128 256] [--tile-batch 4] [--no-compile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daclip.loading import load_restoration  # noqa: E402
from daclip.restoration.precision import InferenceMode, prepare  # noqa: E402


def timed(call, inputs: tuple, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        call(*inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(*inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def onnx_call(ckpt: str, tile: int, conditioned: bool):
    try:
        import onnxruntime
    except ImportError:
        return None
    from daclip.export import export_restorer

    path = Path(tempfile.mkdtemp(prefix="restore_speed_")) / "unet.onnx"
    export_restorer(ckpt, path, tile=tile)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = ["x_t", "mu", "t"] + (["content", "degradation"] if conditioned else [])

    def call(*args):
        feeds = {n: a.numpy() for n, a in zip(names, args) if a is not None}
        return torch.from_numpy(session.run(None, feeds)[0])

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="demo_weights/restore")
    parser.add_argument("--tiles", type=int, nargs="*", default=[128, 256])
    parser.add_argument("--tile-batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    loaded = load_restoration(args.ckpt, device=device)
    net = loaded.inference_net("ema").eval()
    unet = loaded.config.unet
    modes = [InferenceMode(), InferenceMode(channels_last=True), InferenceMode("bf16"),
             InferenceMode("bf16", channels_last=True)] + ([] if args.no_compile else [InferenceMode(compile=True)])
    result = {"benchmark": "restoration network, one call on a batch of tiles", "checkpoint": args.ckpt,
              "model": loaded.config.name, "tile_batch": args.tile_batch, "device": str(device),
              "threads": torch.get_num_threads(), "repeats": args.repeats, "statistic": "median seconds per call",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
              "tiles": {}}
    gen = torch.Generator().manual_seed(0)
    for tile in args.tiles:
        b = args.tile_batch
        x, mu = torch.rand(b, 3, tile, tile, generator=gen), torch.rand(b, 3, tile, tile, generator=gen)
        t = torch.full((b,), loaded.sde.T // 2)
        emb = (torch.randn(b, unet.context_dim, generator=gen), torch.randn(b, unet.context_dim, generator=gen)) \
            if unet.conditioned else (None, None)
        inputs = tuple(a.to(device) if a is not None else None for a in (x, mu, t, *emb))
        reference = prepare(net, InferenceMode(), device)(*inputs)
        rows, base = {}, None
        calls = [(m.name, lambda m=m: prepare(net, m, device)) for m in modes]
        if device.type == "cpu":
            calls.append(("onnxruntime", lambda tile=tile: onnx_call(args.ckpt, tile, unet.conditioned)))
        for name, make in calls:
            try:
                call = make()
                if call is None:
                    continue
                seconds = timed(call, inputs, args.repeats)
                out = call(*inputs)
            except Exception as exc:  # a mode this machine cannot run: say why, keep the others
                rows[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
                continue
            base = base or seconds
            drift = float((out.float().cpu() - reference.cpu()).abs().max() / reference.abs().max())
            rows[name] = {"seconds_per_call": round(seconds, 4),
                          "megapixels_per_s_per_step": round(b * tile * tile / seconds / 1e6, 3),
                          "speedup_vs_fp32": round(base / seconds, 3), "max_relative_drift": float(f"{drift:.3g}")}
        result["tiles"][str(tile)] = rows
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
