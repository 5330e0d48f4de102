"""Quality bar for DA-CLIP on CPU: degradation accuracy and content cosine of the ``tiny`` model.

1. Clean images: ``--clean-size`` squares (64 px; ``--per-scale`` random crops of each photo
   downscaled to each of ``--short-sides``, flat crops rejected) of the photos bundled with
   scikit-image. Train and val use different photos, so val measures degradations on unseen
   images, not memorised photos; both get the same recipe.
2. ``make-dataset synthesize`` every registered degradation type on both sets (medium severity).
3. ``train-daclip``'s loop: ``--model tiny`` (or ``tiny-128``: 128 px input, patch 16) from random
   initialisation (``--pretrained none``), with the HQ-alignment term (the data have no captions),
   for at most ``--minutes`` of training; the step count comes from a short timed probe run, or
   ``--steps`` fixes it (to compare recipes at equal steps whatever the machine's load).
4. ``daclip evaluate`` on val: accuracy, confusion matrix, LQ->HQ content cosine with and
   without the controller; plain-CLIP zero-shot as the baseline row.

Prints one JSON object (also written to ``<workdir>/bench.json``) with the throughput of the
training loop and of the data loader alone, timed in the same run.

``--mix`` adds mixed-degradation samples (``--mixtures``, e.g. ``hazy+noisy``: each clean crop
degraded in that order by ``make-dataset synthesize --task hazy+noisy``) to train and val. Training then picks the multi-label ``bce``
loss (``--degradation-loss auto``), and the ``mix`` block of the JSON reports, from the same run,
the single-type top-1 accuracy next to per-type recall and exact-set accuracy on the mixtures.

    python bench/daclip_cpu.py --minutes 10 --workdir /tmp/daclip_bench
    python bench/daclip_cpu.py --mix --minutes 4 --per-scale 4 --workdir /tmp/daclip_bench_mix
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VAL_PHOTOS = ("coffee", "rocket", "camera", "gravel")
MIXTURES = ("hazy+noisy", "low-light+noisy", "motion-blurry+jpeg-compressed", "rainy+hazy")
TRAIN_PHOTOS = ("astronaut", "brick", "chelsea", "clock", "coins", "grass", "hubble_deep_field",
                "immunohistochemistry", "moon", "page", "retina", "text", "motorcycle", "cell", "colorwheel")


def load_photo(name: str) -> np.ndarray:
    from skimage import data

    from degradations import to_rgb8

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return to_rgb8(np.asarray(img))


def crops(img: np.ndarray, rng: np.random.Generator, size: int, per_scale: int,
          short_sides: tuple[int, ...] = (96, 160, 256)) -> list[np.ndarray]:
    """Random ``size`` squares from the photo downscaled to a few sizes; near-flat squares skipped."""
    out = []
    for short in short_sides:
        scale = short / min(img.shape[:2])
        if scale > 1:
            continue
        small = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
        got, tries = 0, 0
        while got < per_scale and tries < per_scale * 20:
            tries += 1
            top = int(rng.integers(0, small.shape[0] - size + 1))
            left = int(rng.integers(0, small.shape[1] - size + 1))
            crop = small[top : top + size, left : left + size]
            if crop.std() < 12:
                continue
            out.append(np.ascontiguousarray(crop))
            got += 1
    return out


def write_clean(folder: Path, photos: tuple[str, ...], size: int, per_scale: int, seed: int,
                short_sides: tuple[int, ...]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, name in enumerate(photos):
        rng = np.random.default_rng([seed, i])
        for j, crop in enumerate(crops(load_photo(name), rng, size, per_scale, short_sides)):
            cv2.imwrite(str(folder / f"{name}_{j:03d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            n += 1
    return n


def synthesize(clean: Path, out: Path, variants: int, workers: int, seed: int, tasks: tuple[str, ...] = ("all",)
               ) -> list[str]:
    """``make-dataset synthesize`` of ``tasks`` over the clean crops; returns the task manifests."""
    task_args = [arg for task in tasks for arg in ("--task", task)]
    cmd = [sys.executable, "-m", "pipelines.cli", "synthesize", *task_args, "--input", str(clean),
           "--out", str(out / "data"), "--manifests", str(out / "manifests"), "--variants", str(variants),
           "--workers", str(workers), "--seed", str(seed), "--shard-size", "400"]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                   stdout=subprocess.DEVNULL)
    return sorted(str(p) for p in (out / "manifests").glob("*.parquet"))


def mixture_summary(report: dict) -> dict:
    """The numbers ``--mix`` is about, side by side, from one evaluation report."""
    mixtures = report["mixtures"]
    return {
        "single_type_accuracy": report["accuracy"],
        "single_samples": report["single_samples"],
        "mixture_samples": report["mixture_samples"],
        "threshold": report["threshold"],
        "exact_set_accuracy_all": report["exact_set_accuracy"],
        "mixture_exact_set_accuracy": mixtures["exact_set_accuracy"],
        "mixture_recall_per_type": {r["degradation"]: r["recall"] for r in mixtures["per_type"] if r["support"]},
        "mixture_exact_set_by_mixture": {m["degradation"]: m["exact_set_accuracy"] for m in mixtures["by_mixture"]},
        "precision_recall_per_type": {r["degradation"]: {"precision": r["precision"], "recall": r["recall"]}
                                      for r in report["per_type"]},
    }


def loader_throughput(manifests: list[str], model: str, image_size: int, batch_size: int, workers: int,
                      batches: int) -> float:
    """Samples/s of the training loader alone (decode, crop, tokenise, batch; LQ and HQ)."""
    from daclip.controller.factory import get_tokenizer
    from daclip.data.loaders import make_loader, train_stream
    from daclip.data.shards import load_index

    stream = train_stream(0, index=load_index(manifests), image_size=image_size, tokenizer=get_tokenizer(model),
                          with_hq=True)
    loader = make_loader(stream, batch_size=batch_size, workers=workers)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - start)


@click.command()
@click.option("--workdir", default="/tmp/daclip_bench", type=click.Path(file_okay=False))
@click.option("--minutes", default=10.0, help="Training-time budget (the quality bar allows 10).")
@click.option("--batch-size", default=32)
@click.option("--lr", default=1e-3)
@click.option("--hq-align-weight", default=1.0)
@click.option("--model", default="tiny", type=click.Choice(["tiny", "tiny-128"]),
              help="tiny: 64 px input, patch 8; tiny-128: 128 px input, patch 16 (same token count; use "
                   "--clean-size 128 --short-sides 160,256,384,512 with it).")
@click.option("--clean-size", default=64, help="Side of the clean square crops (px) the degradations apply to.")
@click.option("--short-sides", default="96,160,256",
              help="Comma-separated shorter sides the photos are downscaled to before cropping (scales).")
@click.option("--per-scale", default=14, help="Clean crops per photo and scale.")
@click.option("--variants", default=1)
@click.option("--steps", type=int, default=None,
              help="Fixed step count (compare recipes under varying load); default: fill --minutes.")
@click.option("--workers", default=1, help="DataLoader workers during training.")
@click.option("--threads", default=2, help="torch threads for the training process.")
@click.option("--seed", default=0)
@click.option("--mix", is_flag=True, help="Add mixed-degradation samples (--mixtures) to train and val; report "
                                         "per-type recall on mixtures next to single-type accuracy.")
@click.option("--mixtures", default=",".join(MIXTURES), show_default=True,
              help="Comma-separated mixture labels for --mix (types applied in the order given).")
@click.option("--export", default=None, type=click.Path(file_okay=False),
              help="Also write the trained model here (float16 safetensors + config, recorded in RECORD.json "
                   "beside it): how demo_weights/daclip is made.")
def main(workdir, minutes, batch_size, lr, hq_align_weight, model, clean_size, short_sides, per_scale, variants,
         steps, workers, threads, seed, mix, mixtures, export) -> None:
    import torch

    from daclip import load
    from daclip.controller.config import TrainConfig
    from daclip.controller.evaluate import evaluate_model
    from daclip.controller.factory import create_clip
    from daclip.controller.report import write_outputs
    from daclip.controller.trainer import train
    from daclip.runtime.settings import RunSettings

    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(threads)
    work = Path(workdir)
    sides = tuple(int(v) for v in short_sides.split(","))
    mixture_labels = tuple(label.strip() for label in mixtures.split(",") if label.strip())
    image_size = int(create_clip(model, "none").visual.image_size[0])
    result: dict = {"config": {"minutes": minutes, "batch_size": batch_size, "lr": lr, "threads": threads,
                               "hq_align_weight": hq_align_weight, "workers": workers, "model": model,
                               "image_size": image_size, "clean_size": clean_size, "short_sides": sides,
                               "per_scale": per_scale, "variants": variants,
                               "pretrained": "none", "train_photos": TRAIN_PHOTOS, "val_photos": VAL_PHOTOS,
                               "mixtures": mixture_labels if mix else []}}

    t0 = time.perf_counter()
    sets = {}
    for split, photos in (("train", TRAIN_PHOTOS), ("val", VAL_PHOTOS)):
        clean = work / split / "clean"
        if not (work / split / "manifests").exists():
            count = write_clean(clean, photos, clean_size, per_scale, seed + (split == "val"), sides)
            synthesize(clean, work / split, variants, workers=2, seed=seed)
        else:
            count = len(list(clean.glob("*.png")))
        sets[split] = sorted(str(p) for p in (work / split / "manifests").glob("*.parquet"))
        if mix:  # one folder per set of mixtures, so a rerun with the same ones resumes
            tag = hashlib.sha256(",".join(mixture_labels).encode()).hexdigest()[:10]
            sets[split] += synthesize(clean, work / split / f"mixed-{tag}", variants, workers=2, seed=seed,
                                      tasks=mixture_labels)
        result[f"{split}_clean_images"] = count
    from daclip.data.shards import load_index
    from pipelines.manifest.schema import task_from_slug

    result["train_samples"] = load_index(sets["train"]).num_samples
    result["val_samples"] = load_index(sets["val"]).num_samples
    result["degradations"] = sorted(task_from_slug(Path(p).stem) for p in sets["train"])
    result["synthesis_s"] = round(time.perf_counter() - t0, 1)

    result["loader_samples_per_s"] = round(loader_throughput(sets["train"], model, image_size, batch_size, workers, 20), 1)

    train_config = TrainConfig(shards=tuple(sets["train"]), model=model, pretrained="none", batch_size=batch_size,
                               lr=lr, hq_align_weight=hq_align_weight)

    def config(out: str, steps: int, progress: bool = False, **extra) -> tuple[TrainConfig, RunSettings]:
        run = RunSettings(out=str(work / out), steps=steps, workers=workers, seed=seed, device="cpu",
                          threads=threads, save_every=steps, overwrite=True, progress=progress, **extra)
        return dataclasses.replace(train_config, warmup=min(100, steps // 10)), run

    if steps is None:  # the schedule's length from a short timed probe (the budget stops the run anyway)
        # the median rate of the probe's 10-step windows: start-up excluded (timing the whole probe measures
        # mostly start-up and the schedule ends after half the budget); 0.85 leaves room for the val passes
        train(*config("probe", 30))
        rows = [json.loads(line) for line in (work / "probe" / "metrics.jsonl").read_text().splitlines()]
        rate = float(np.median([r["samples_per_s"] for r in rows if "samples_per_s" in r][-3:]))
        steps = max(50, int(rate / batch_size * minutes * 60 * 0.85))
        result["probe_samples_per_s"] = rate
    result["train_steps"] = steps

    start = time.perf_counter()
    summary = train(*config("run", steps, progress=True, val=tuple(sets["val"]), val_every=max(1, steps // 2),
                            max_minutes=minutes))
    result["train_steps_done"] = summary["final_step"]
    result["train_s"] = round(time.perf_counter() - start, 1)
    result["train_samples_per_s"] = round(summary["samples_per_s"], 1)
    result["final_train_loss"] = round(summary["loss"], 4)
    result["final_train_batch_accuracy"] = round(summary["accuracy"], 4)
    result["degradation_loss"] = json.loads((work / "run" / "config.json").read_text())["task"]["train"][
        "degradation_loss"]
    val_curve = [json.loads(line) for line in (work / "run" / "metrics.jsonl").read_text().splitlines()]
    result["val_accuracy_curve"] = [(r["step"], r["val_accuracy"]) for r in val_curve if "val_accuracy" in r]

    model = load(work / "run")
    report = evaluate_model(model, sets["val"], batch_size=64, workers=0)
    write_outputs(report, work / "evaluation")
    result["evaluation"] = report
    if mix:
        result["mix"] = mixture_summary(report)
    result["targets"] = {
        "val_accuracy_at_least_0.90": report["accuracy"] >= 0.90,
        "controller_raises_content_cosine": report["cosine_hq_controlled"] > report["cosine_hq_plain"],
    }
    if export:
        from bench.demo_weights import export as export_weights

        measured = {"val_accuracy": round(report["accuracy"], 4), "train_steps": result["train_steps_done"],
                    "val_photos": VAL_PHOTOS, "train_photos": TRAIN_PHOTOS,
                    "per_degradation": {r["degradation"]: r["accuracy"] for r in report["per_degradation"]}}
        result["export"] = export_weights(work / "run", export, dtype="float16", measured=measured)
    (work / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
