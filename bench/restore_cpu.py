"""DA-CLIP's conditioning ablation for IR-SDE restoration, on CPU (a benchmark, not a test); prints JSON.

1. Clean 128 px tiles cut from scikit-image's photos (each downscaled to a 256 px short side), split
   by photo as in ``bench/daclip_cpu.py``: its 15 training photos train, its 4 validation photos
   (coffee, rocket, camera, gravel) are never trained on by the restorers nor by the demo DA-CLIP.
   ``make-dataset synthesize`` degrades them with every ``--tasks`` type (medium severity).
2. Arms, trained at the same time (one process and thread each, so both see the same machine
   load) for the same ``--steps`` and the same ``--minutes`` cap, from the same seed:
   ``conditioned`` (the ``tiny`` U-Net conditioned on a frozen DA-CLIP, ``--daclip``, default the
   demo weights) and ``unconditioned`` (identical U-Net, ``--no-daclip``). ``oracle`` is the
   conditioned model fed the true type's DA-CLIP text embedding instead of the image's degradation
   embedding (``daclip.restoration.model.embed``); it trains nothing.
3. Per type, on ``--max-val`` validation tiles: PSNR/SSIM of the LQ input, of a classical baseline
   (``bench/classical.py``, its parameter tuned on training tiles) and of each arm (posterior
   sampler, x0 clamped, seed 0), plus DA-CLIP's accuracy on those tiles.

The recipe is the short-budget one measured for ~1k CPU steps (see the restoration README): the U-Net
predicts x0 with an L1 loss on it, lr 2e-3 with 25 warmup steps, gradient clipping at 1, batches of
16 patches of 48 px, raw weights, 5 sampling steps. ``--export DIR`` writes the conditioned arm
there (how ``demo_weights/restore`` is made), ``--docs DIR`` the ablation picture.

    python bench/restore_cpu.py --tasks all --steps 1000 --minutes 20 --out /tmp/bench_restore --docs docs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.classical import BASELINES, tune  # noqa: E402
from bench.daclip_cpu import TRAIN_PHOTOS, VAL_PHOTOS, load_photo  # noqa: E402

DEMO_DACLIP = ROOT / "demo_weights" / "daclip"
ARMS = ("conditioned", "unconditioned")
RECIPE = {"model": "tiny", "prediction": "x0", "loss": "x0", "warmup": 25, "grad_clip": 1.0}


def make_tiles(folder: Path, photos: tuple[str, ...], tile: int, short_side: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for name in photos:
        img = load_photo(name)
        scale = short_side / min(img.shape[:2])
        img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        for top in range(0, img.shape[0] - tile + 1, tile):
            for left in range(0, img.shape[1] - tile + 1, tile):
                crop = img[top : top + tile, left : left + tile]
                cv2.imwrite(str(folder / f"{name}_{top}_{left}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
                n += 1
    return n


def synthesize(root: Path, photos: tuple[str, ...], tasks: list[str], tile: int, variants: int) -> list[str]:
    from click.testing import CliRunner

    from pipelines.cli import cli

    make_tiles(root / "clean", photos, tile, 2 * tile)
    args = ["synthesize", "--severity", "medium", "--variants", str(variants), "--input", str(root / "clean"),
            "--out", str(root / "data"), "--manifests", str(root / "manifests"), "--workers", "1", "--seed", "0",
            "--overwrite"]
    for task in tasks:
        args += ["--task", task]
    result = CliRunner().invoke(cli, args)
    if result.exit_code != 0:
        raise RuntimeError(f"synthesize failed: {result.output}\n{result.exception!r}")
    return sorted(str(p) for p in (root / "manifests").glob("*.parquet"))


def samples(manifests: list[str], limit: int | None) -> dict[str, list[dict]]:
    from daclip.data.shards import sample_stream, split_by_degradation

    out = {}
    for name, index in split_by_degradation(manifests, None).items():
        rows = sorted(sample_stream(index, resampled=False, shuffle_buffer=0), key=lambda s: s["key"])
        out[name] = rows[:limit]
    return out


def run_arm(arm: str, args: argparse.Namespace, train_manifests: list[str], val: dict[str, list[dict]]) -> dict:
    """Train one arm (in its own process), then restore the validation tiles with it."""
    import torch

    from daclip.loading import load_encoder, load_restoration
    from daclip.restoration.config import TrainConfig
    from daclip.restoration.metrics import psnr, ssim
    from daclip.restoration.restore import SamplingConfig, restore_array
    from daclip.restoration.trainer import train
    from daclip.runtime.settings import RunSettings

    torch.set_num_threads(args.threads)
    daclip = str(args.daclip) if arm == "conditioned" else None
    config = TrainConfig(shards=tuple(train_manifests), daclip=daclip, batch_size=args.batch_size, patch=args.patch,
                         lr=args.lr, **{k: v for k, v in RECIPE.items()})
    out = Path(args.out) / arm
    start = time.time()
    summary = train(config, RunSettings(seed=args.seed, device="cpu", threads=args.threads, workers=1, overwrite=True,
                                        out=str(out), steps=args.steps, save_every=args.steps, log_every=20,
                                        max_minutes=args.minutes, progress=False))
    train_minutes = (time.time() - start) / 60
    loaded = load_restoration(out)
    net = loaded.inference_net("net").eval()
    encoder = load_encoder(loaded.config, "cpu")
    sampling = SamplingConfig(sampler="posterior", steps=args.sample_steps, seed=0, tile=None, clip_x0=True)
    variants = {arm: None} if arm == "unconditioned" else {"conditioned": None, "oracle": "task"}
    rows: dict[str, dict] = {name: {} for name in variants}
    for name, text in variants.items():
        for task, items in val.items():
            scores, first = [], None
            for s in items:
                restored = restore_array(net, loaded.sde, encoder, s["lq"], sampling,
                                         degradation_text=task if text else None)
                scores.append((psnr(restored, s["hq"]), ssim(restored, s["hq"])))
                first = restored if first is None else first
            rows[name][task] = {"psnr": float(np.mean([p for p, _ in scores])),
                                "ssim": float(np.mean([q for _, q in scores])), "example": first}
    return {"arm": arm, "rows": rows, "train_minutes": round(train_minutes, 2), "steps": summary.get("final_step"),
            "stopped_by_time_limit": bool(summary.get("stopped_by_time_limit")), "final_loss": summary.get("loss"),
            "parameters_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 3)}


def classical_rows(train: dict[str, list[dict]], val: dict[str, list[dict]]) -> dict[str, dict]:
    from daclip.restoration.metrics import psnr, ssim

    out = {}
    for task, items in val.items():
        param = tune(task, train.get(task, [])[:8], psnr)
        if param is None:
            continue
        base = BASELINES[task]
        restored = [base.fn(s["lq"], param, s) for s in items]
        out[task] = {"method": base.name, "param": param, "example": restored[0],
                     "psnr": float(np.mean([psnr(r, s["hq"]) for r, s in zip(restored, items)])),
                     "ssim": float(np.mean([ssim(r, s["hq"]) for r, s in zip(restored, items)]))}
    return out


def daclip_accuracy(path: str, val: dict[str, list[dict]]) -> dict[str, float]:
    import torch

    import daclip
    from daclip.data.transforms import to_float
    from degradations import NAMES

    model = daclip.load(path)
    acc = {}
    for task, items in val.items():
        x = model.preprocess_tensor(torch.stack([to_float(s["lq"]) for s in items]))
        acc[task] = float((model.classify(x).argmax(-1) == NAMES.index(task)).float().mean())
    return acc


def picture(report: dict, arms: dict, classical: dict, val: dict, out: Path) -> None:
    from daclip.restoration.compare import captioned
    from daclip.restoration.evaluate import make_grid
    from pipelines.common.images import save_image

    rows = []
    for task, items in val.items():
        cells = [captioned(items[0]["lq"], [task, f"LQ {report['types'][task]['lq']['psnr']:.1f} dB"], 128)]
        if task in classical:
            cells.append(captioned(classical[task]["example"], ["classical", f"{classical[task]['psnr']:.1f} dB"], 128))
        else:
            cells.append(captioned(np.full_like(items[0]["lq"], 255), ["no classical", ""], 128))
        for name in ("unconditioned", "conditioned", "oracle"):
            if name in arms:
                cells.append(captioned(arms[name][task]["example"], [name, f"{arms[name][task]['psnr']:.1f} dB"], 128))
        cells.append(captioned(items[0]["hq"], ["HQ", ""], 128))
        rows.append(tuple(cells))
    save_image(make_grid(rows, height=rows[0][0].shape[0]), out)


def main() -> None:
    from degradations import NAMES, canonical_name

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="all", help="Comma-separated types or aliases, or 'all'.")
    p.add_argument("--arms", default=",".join(ARMS), help="conditioned,unconditioned (oracle comes with conditioned).")
    p.add_argument("--daclip", default=str(DEMO_DACLIP), help="Frozen DA-CLIP of the conditioned arm.")
    p.add_argument("--steps", type=int, default=1000, help="Training steps of every arm.")
    p.add_argument("--minutes", type=float, default=20.0, help="Wall-clock cap of every arm's training.")
    p.add_argument("--out", default="/tmp/bench_restore")
    p.add_argument("--threads", type=int, default=1, help="torch threads per arm (arms run in parallel).")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--tile", type=int, default=128)
    p.add_argument("--variants", type=int, default=2, help="Degraded variants per training tile and type.")
    p.add_argument("--sample-steps", type=int, default=5, help="Posterior steps (5 and 10 differ by 0.01 dB).")
    p.add_argument("--max-val", type=int, default=8, help="Validation tiles per type.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", default=None, help="Write the conditioned arm here (demo_weights/restore).")
    p.add_argument("--docs", default=None, help="Write ablation_grid.jpg here.")
    args = p.parse_args()
    tasks = list(NAMES) if args.tasks == "all" else [canonical_name(t) for t in args.tasks.split(",")]
    arms = [a for a in args.arms.split(",") if a]
    root = Path(args.out)
    t0 = time.time()
    train_manifests = synthesize(root / "train", TRAIN_PHOTOS, tasks, args.tile, args.variants)
    val_manifests = synthesize(root / "val", VAL_PHOTOS, tasks, args.tile, 1)
    val = samples(val_manifests, args.max_val)
    synth_s = time.time() - t0

    with ProcessPoolExecutor(max_workers=len(arms), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_arm, arm, args, train_manifests, val) for arm in arms]
        classical = classical_rows(samples(train_manifests, 8), val)
        results = [f.result() for f in futures]

    from daclip.restoration.metrics import psnr, ssim

    arm_rows = {name: rows for r in results for name, rows in r["rows"].items()}
    report: dict = {
        "bench": "restore_cpu ablation", "device": "cpu", "threads_per_arm": args.threads,
        "data": {"train_photos": TRAIN_PHOTOS, "val_photos": VAL_PHOTOS, "tile": args.tile, "severity": "medium",
                 "train_variants": args.variants, "val_tiles_per_type": args.max_val, "synthesis_s": round(synth_s, 1)},
        "recipe": {**RECIPE, "batch_size": args.batch_size, "patch": args.patch, "lr": args.lr, "steps": args.steps,
                   "minutes_cap": args.minutes, "weights": "net", "sampler": "posterior",
                   "sample_steps": args.sample_steps, "clip_x0": True},
        "daclip": args.daclip if "conditioned" in arms else None,
        "arms": {r["arm"]: {k: v for k, v in r.items() if k != "rows"} for r in results},
        "metric": "PSNR dB / SSIM, RGB, uint8, no border crop", "types": {},
    }
    if "conditioned" in arms:
        report["daclip_val_accuracy"] = daclip_accuracy(args.daclip, val)
    for task, items in val.items():
        entry = {"lq": {"psnr": float(np.mean([psnr(s["lq"], s["hq"]) for s in items])),
                        "ssim": float(np.mean([ssim(s["lq"], s["hq"]) for s in items]))}}
        if task in classical:
            entry["classical"] = {k: v for k, v in classical[task].items() if k != "example"}
        for name, rows in arm_rows.items():
            entry[name] = {k: v for k, v in rows[task].items() if k != "example"}
        report["types"][task] = entry
    means = {name: float(np.mean([e[name]["psnr"] for e in report["types"].values()])) for name in ["lq", *arm_rows]}
    report["mean_psnr"] = means
    if "conditioned" in arm_rows:
        report["targets"] = {
            "conditioned_gain_over_lq_db": round(means["conditioned"] - means["lq"], 2),
            "conditioned_at_least_2db_over_lq": means["conditioned"] - means["lq"] >= 2.0,
            "conditioned_beats_classical": {t: e["conditioned"]["psnr"] > e["classical"]["psnr"]
                                            for t, e in report["types"].items() if "classical" in e},
        }
    if args.docs:
        picture(report, arm_rows, classical, val, Path(args.docs) / "ablation_grid.jpg")
    if args.export and "conditioned" in arms:
        from bench.demo_weights import export

        ref = os.path.relpath(Path(args.daclip).resolve(), Path(args.export).resolve())
        measured = {t: {k: round(e[k]["psnr"], 2) for k in ("lq", "conditioned")} for t, e in report["types"].items()}
        report["export"] = export(root / "conditioned", args.export, prefixes=("net.",),
                                  config_updates={"daclip": ref}, measured={"val_psnr": measured})
    text = json.dumps(report, indent=2, default=float)
    (root / "report.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
