"""The GPU check (``bench/gpu_check.sh``): the paths that only run on CUDA, measured in one short run.

Sections, each timed and written to ``OUT/gpu_check.json`` as soon as it finishes (a section that
fails records its error and the others still run), then a short table on stdout:

1. ``env``: torch, CUDA, cuDNN, the card, its memory, bf16 support.
2. ``caption``: BLIP-large architecture (random weights, ``bench/caption.py``) in fp16,
   images/s at batch 1 against batch 32.
3. ``train_daclip``: ``train-daclip`` on ViT-B-32 from random init with AMP, steady-state
   samples/s (median of the last logged windows) and the loader alone (same batch size).
4. ``train_restore``: ``train-restore --model base --patch 256``, conditioned on that DA-CLIP,
   steady-state samples/s.
5. ``restore``: ``daclip restore`` (the same code path: ``restore_files``) of a 1024² and a
   4000×3000 photo: seconds and peak GPU memory, at ``--restore-steps`` sampling steps.

``--smoke`` runs every section on CPU with tiny sizes (tiny BLIP, tiny DA-CLIP and U-Net, small
photos): the same code paths, in about a minute, which is what CI checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

GPU = {"device": "cuda", "caption": ("large", "fp16", 64, (1, 32)), "tokens": 16, "clip": "ViT-B-32", "daclip_batch": 128,
       "daclip_steps": 60, "unet": "base", "patch": 256, "restore_batch": 16, "restore_steps_train": 40,
       "photos": ((1024, 1024), (3000, 4000)), "tile": 512, "max_side": 512}
SMOKE = {"device": "cpu", "caption": ("tiny", "fp32", 4, (1, 4)), "tokens": 4, "clip": "tiny", "daclip_batch": 8,
         "daclip_steps": 6, "unet": "tiny", "patch": 32, "restore_batch": 2, "restore_steps_train": 3,
         "photos": ((96, 96), (120, 160)), "tile": 64, "max_side": 96}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def env(p: dict, out: Path) -> dict:
    info = {"torch": torch.__version__, "python": platform.python_version(), "cuda_available": torch.cuda.is_available(),
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}
    if p["device"] == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(card=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                    capability=f"{props.major}.{props.minor}", bf16=torch.cuda.is_bf16_supported())
    return info


def caption(p: dict, out: Path) -> dict:
    from bench.caption import run_case

    preset, dtype, count, batch_sizes = p["caption"]
    return run_case(preset, p["device"], dtype, list(batch_sizes), count, p["tokens"], 1, out / "caption")


def _data(p: dict, out: Path) -> tuple[str, str]:
    from click.testing import CliRunner

    from pipelines.cli import cli

    args = ["synthesize", "--task", "all", "--max-side", str(p["max_side"]), "--val-fraction", "0.25",
            "--out", str(out / "data"), "--manifests", str(out / "manifests"), "--workers", "2", "--overwrite"]
    result = CliRunner().invoke(cli, args)
    if result.exit_code:
        raise RuntimeError(result.output)
    m = out / "manifests"
    result = CliRunner().invoke(cli, ["merge", *map(str, sorted(m.glob("*.parquet"))), "--train",
                                      str(m / "train.parquet"), "--val", str(m / "val.parquet")])
    if result.exit_code:
        raise RuntimeError(result.output)
    return str(m / "train.parquet"), str(m / "val.parquet")


def _steady(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [r["samples_per_s"] for r in rows if "samples_per_s" in r]
    return round(statistics.median(rates[-3:]), 2) if rates else float("nan")


def _settings(p: dict, out: Path, steps: int):
    from daclip.runtime.settings import RunSettings

    return RunSettings(out=str(out), steps=steps, save_every=steps, log_every=max(1, steps // 6), overwrite=True,
                       device=p["device"], workers=2 if p["device"] == "cuda" else 1, progress=False)


def train_daclip(p: dict, out: Path) -> dict:
    from bench.daclip_cpu import loader_throughput
    from daclip.controller.config import TrainConfig
    from daclip.controller.trainer import train

    train_m, _ = p["manifests"]
    cfg = TrainConfig(shards=(train_m,), model=p["clip"], pretrained="none", batch_size=p["daclip_batch"],
                      lr=1e-4, hq_align_weight=1.0)
    start = time.perf_counter()
    summary = train(cfg, _settings(p, out / "daclip", p["daclip_steps"]))
    image_size = 224 if p["clip"] == "ViT-B-32" else 64
    loader = loader_throughput([train_m], p["clip"], image_size, p["daclip_batch"], 2 if p["device"] == "cuda" else 1, 5)
    return {"model": p["clip"], "amp": p["device"] == "cuda", "batch_size": p["daclip_batch"],
            "steps": summary["final_step"], "seconds": round(time.perf_counter() - start, 1),
            "samples_per_s": _steady(out / "daclip"), "loader_samples_per_s": round(loader, 1)}


def train_restore(p: dict, out: Path) -> dict:
    from daclip.restoration.config import TrainConfig
    from daclip.restoration.trainer import train

    train_m, _ = p["manifests"]
    cfg = TrainConfig(shards=(train_m,), model=p["unet"], daclip=str(out / "daclip"), batch_size=p["restore_batch"],
                      patch=p["patch"])
    start = time.perf_counter()
    summary = train(cfg, _settings(p, out / "restore", p["restore_steps_train"]))
    return {"model": p["unet"], "patch": p["patch"], "batch_size": p["restore_batch"], "conditioned": True,
            "steps": summary["final_step"], "seconds": round(time.perf_counter() - start, 1),
            "samples_per_s": _steady(out / "restore")}


def restore(p: dict, out: Path) -> dict:
    import cv2
    from skimage import data

    from daclip.restoration.restore import SamplingConfig, restore_files

    rows = {}
    for h, w in p["photos"]:
        path = out / f"photo_{w}x{h}.png"
        cv2.imwrite(str(path), cv2.resize(data.astronaut()[..., ::-1], (w, h), interpolation=cv2.INTER_CUBIC))
        sampling = SamplingConfig(steps=p["restore_steps"], tile=p["tile"], overlap=p["tile"] // 8, tile_batch=4)
        if p["device"] == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        restore_files([path], out / "restored", str(out / "restore"), sampling, device=p["device"], overwrite=True,
                      progress=False)
        _sync(p["device"])
        row = {"seconds": round(time.perf_counter() - start, 2), "steps": p["restore_steps"], "tile": p["tile"]}
        if p["device"] == "cuda":
            row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
        rows[f"{w}x{h}"] = row
    return rows


def restore_modes(p: dict, out: Path) -> dict:
    """One network call on 4 tiles per inference mode (bench/restore_speed.py's rows), fp32 eager first."""
    from daclip.loading import load_restoration
    from daclip.restoration.precision import InferenceMode, prepare

    device = p["device"]
    loaded = load_restoration(out / "restore", device=device)
    net, unet, tile = loaded.inference_net("ema").eval(), loaded.config.unet, p["tile"]
    modes = [InferenceMode(), InferenceMode(channels_last=True), InferenceMode("bf16")]
    if device == "cuda":
        modes += [InferenceMode("fp16"), InferenceMode("fp16", channels_last=True), InferenceMode(compile=True)]
    gen = torch.Generator().manual_seed(0)
    x, mu = (torch.rand(4, 3, tile, tile, generator=gen).to(device) for _ in range(2))
    emb = [torch.randn(4, unet.context_dim, generator=gen).to(device) for _ in range(2)] if unet.conditioned else [None] * 2
    args = (x, mu, torch.full((4,), loaded.sde.T // 2, device=device), *emb)
    rows, reference, base = {}, None, None
    for mode in modes:
        try:
            call = prepare(net, mode, device)
            for _ in range(2):
                y = call(*args)
            _sync(device)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                y = call(*args)
                _sync(device)
                times.append(time.perf_counter() - start)
        except Exception as exn:  # a mode this card cannot run: say why, keep the others
            rows[mode.name] = {"error": f"{type(exn).__name__}: {str(exn).splitlines()[0][:160]}"}
            continue
        seconds = statistics.median(times)
        reference = y if reference is None else reference
        base = base or seconds
        rows[mode.name] = {"megapixels_per_s_per_step": round(4 * tile * tile / seconds / 1e6, 3),
                           "speedup_vs_fp32": round(base / seconds, 2),
                           "max_relative_drift": float(f"{float((y - reference).abs().max() / reference.abs().max()):.3g}")}
    return {"tile": tile, "tiles_per_call": 4, "modes": rows}


SECTIONS = {"env": env, "caption": caption, "train_daclip": train_daclip, "train_restore": train_restore,
            "restore": restore, "restore_modes": restore_modes}


def table(result: dict) -> str:
    e, c, d, r = (result.get(k, {}) for k in ("env", "caption", "train_daclip", "train_restore"))
    lines = [f"device: {e.get('card', 'cpu (smoke)')}  torch {e.get('torch')}  CUDA {e.get('cuda')}"]
    if "images_per_s" in c:
        rates = c["images_per_s"]
        lines.append(f"caption BLIP-{c['preset']} {c['dtype']}: " + ", ".join(f"batch {b}: {v} img/s"
                                                                         for b, v in rates.items()))
    if "samples_per_s" in d:
        lines.append(f"train-daclip {d['model']}: {d['samples_per_s']} samples/s (loader alone "
                     f"{d['loader_samples_per_s']})")
    if "samples_per_s" in r:
        lines.append(f"train-restore {r['model']} {r['patch']}px: {r['samples_per_s']} samples/s")
    for size, row in result.get("restore", {}).items():
        if isinstance(row, dict) and "seconds" in row:
            mem = f", peak {row['peak_gpu_mib']} MiB" if "peak_gpu_mib" in row else ""
            lines.append(f"restore {size} ({row['steps']} steps, tile {row['tile']}): {row['seconds']} s{mem}")
    modes = result.get("restore_modes", {})
    for name, row in modes.get("modes", {}).items():
        if "megapixels_per_s_per_step" in row:
            lines.append(f"restore mode {name} (tile {modes['tile']} x4): {row['megapixels_per_s_per_step']} MP/s per "
                         f"step, x{row['speedup_vs_fp32']}, drift {row['max_relative_drift']}")
    lines += [f"{name}: FAILED {v['error']}" for name, v in result.items() if isinstance(v, dict) and "error" in v]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-check", help="Folder for gpu_check.json and the runs.")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: the same code paths, for CI.")
    parser.add_argument("--restore-steps", type=int, default=20, help="Sampling steps of the restore timing.")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="Comma-separated subset of sections.")
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        print("no CUDA device: run with --smoke for the CPU path", file=sys.stderr)
        return 2
    p = {**(SMOKE if args.smoke else GPU), "restore_steps": 2 if args.smoke else args.restore_steps}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    result: dict = {"smoke": args.smoke, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    p["manifests"] = _data(p, out)
    for name in args.sections.split(","):
        start = time.perf_counter()
        try:
            result[name] = SECTIONS[name](p, out)
        except Exception as exn:  # one failed section must not hide the others' numbers
            result[name] = {"error": f"{type(exn).__name__}: {exn}", "traceback": traceback.format_exc()[-2000:]}
        if isinstance(result[name], dict):
            result[name]["section_s"] = round(time.perf_counter() - start, 1)
        (out / "gpu_check.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table(result))
    print(f"wrote {out / 'gpu_check.json'}")
    return int(any(isinstance(v, dict) and "error" in v for v in result.values()))


if __name__ == "__main__":
    sys.exit(main())
