"""``daclip evaluate``: degradation accuracy, confusion matrix and content cosine on a manifest.

For every sample the manifest lists (status ok; one split with ``--split``), with CLIP's val
transform (resize + centre crop):

* accuracy per degradation of the trained controller, and of plain CLIP zero-shot over the same
  ten words (the baseline row);
* the confusion matrix (rows: true degradation, columns: predicted), also as a PNG;
* the mean cosine between the LQ content embedding and the HQ image's plain-CLIP embedding,
  with the controller and without it (plain CLIP on the LQ image). DA-CLIP's claim is that the
  controller raises it. The same cosines against *another* sample's HQ image (``cosine_other_*``)
  show how much of it is image-specific rather than a shared direction.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
import torch.nn.functional as F

from degradations import NAMES
from pipelines.common.devices import resolve_device

from ..runtime.distributed import Dist
from .classify import DEFAULT_CKPT
from .model import DaCLIP


@torch.no_grad()
def evaluate_model(
    model,
    manifests: Sequence[str | os.PathLike],
    *,
    split: str | None = None,
    batch_size: int = 64,
    workers: int = 0,
    device: torch.device | str = "cpu",
    max_samples: int | None = None,
) -> dict[str, Any]:
    """Evaluate a loaded DA-CLIP model; returns the JSON-able report (see the module docstring)."""
    from ..data.loaders import eval_loader
    from ..data.shards import load_index

    device = torch.device(device)
    model = model.to(device).eval()
    index = load_index(manifests, split=split)
    loader = eval_loader(index, image_size=model.image_size, tokenizer=model.tokenizer, batch_size=batch_size,
                         with_hq=True, workers=workers)
    n = len(NAMES)
    confusion = np.zeros((n, n), dtype=np.int64)
    zero_shot_confusion = np.zeros((n, n), dtype=np.int64)
    cos_ctrl = np.zeros(n)
    cos_plain = np.zeros(n)
    mismatched = {"controlled": 0.0, "plain": 0.0, "pairs": 0}
    seen = 0
    for batch in loader:
        if max_samples is not None and seen >= max_samples:
            break
        lq, hq, labels = batch["image"].to(device), batch["hq"].to(device), batch["label"].numpy()
        content, degradation = model.encode_image(lq)
        plain_lq = model.encode_plain(lq)
        plain_hq = model.encode_plain(hq)
        pred = model.degradation_logits(degradation).argmax(-1).cpu().numpy()
        zs = model.zero_shot(lq).argmax(-1).cpu().numpy()
        c1 = F.cosine_similarity(content.float(), plain_hq.float(), dim=-1).cpu().numpy()
        c0 = F.cosine_similarity(plain_lq.float(), plain_hq.float(), dim=-1).cpu().numpy()
        if len(labels) > 1:  # the same against another image's HQ: how image-specific the content is
            other = plain_hq.float().roll(1, dims=0)
            mismatched["controlled"] += float(F.cosine_similarity(content.float(), other, dim=-1).sum())
            mismatched["plain"] += float(F.cosine_similarity(plain_lq.float(), other, dim=-1).sum())
            mismatched["pairs"] += len(labels)
        np.add.at(confusion, (labels, pred), 1)
        np.add.at(zero_shot_confusion, (labels, zs), 1)
        np.add.at(cos_ctrl, labels, c1)
        np.add.at(cos_plain, labels, c0)
        seen += len(labels)
    total = int(confusion.sum())
    if total == 0:
        raise ValueError(f"no samples could be read from {list(map(str, manifests))}")
    per_class = confusion.sum(1)
    rows = []
    for i, name in enumerate(NAMES):
        if per_class[i] == 0:
            continue
        rows.append({
            "degradation": name,
            "samples": int(per_class[i]),
            "accuracy": round(float(confusion[i, i] / per_class[i]), 4),
            "zero_shot_accuracy": round(float(zero_shot_confusion[i, i] / per_class[i]), 4),
            "cosine_hq_controlled": round(float(cos_ctrl[i] / per_class[i]), 4),
            "cosine_hq_plain": round(float(cos_plain[i] / per_class[i]), 4),
        })
    return {
        "samples": total,
        "accuracy": round(float(np.trace(confusion) / total), 4),
        "baseline_zero_shot_accuracy": round(float(np.trace(zero_shot_confusion) / total), 4),
        "cosine_hq_controlled": round(float(cos_ctrl.sum() / total), 4),
        "cosine_hq_plain": round(float(cos_plain.sum() / total), 4),
        "cosine_other_hq_controlled": _mean(mismatched["controlled"], mismatched["pairs"]),
        "cosine_other_hq_plain": _mean(mismatched["plain"], mismatched["pairs"]),
        "per_degradation": rows,
        "labels": list(NAMES),
        "confusion": confusion.tolist(),
        "zero_shot_confusion": zero_shot_confusion.tolist(),
    }


@torch.no_grad()
def val_accuracy(model: DaCLIP, loader: Iterable[dict[str, Any]], device: torch.device, dist: Dist) -> float:
    """Degradation accuracy over every sample of the val manifest (summed across ranks)."""
    was_training = model.training
    model.eval()
    correct = total = 0
    for batch in loader:
        probs = model.classify(batch["image"].to(device))
        correct += int((probs.argmax(-1).cpu() == batch["label"]).sum())
        total += len(batch["label"])
    if dist.world > 1:
        import torch.distributed as tdist

        counts = torch.tensor([correct, total], dtype=torch.float64, device=device)  # NCCL needs CUDA tensors
        tdist.all_reduce(counts)
        correct, total = int(counts[0]), int(counts[1])
    model.train(was_training)
    return correct / max(1, total)


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 4) if count else None


def confusion_image(confusion: np.ndarray, names: Sequence[str], cell: int = 44) -> np.ndarray:
    """An RGB picture of a confusion matrix: row-normalised shading, counts in the cells."""
    import cv2

    n = len(names)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.42
    label_w = max(cv2.getTextSize(name, font, scale, 1)[0][0] for name in names) + 12
    size = (label_w + n * cell + 10, label_w + n * cell + 30)
    img = np.full((size[1], size[0], 3), 255, np.uint8)
    totals = np.maximum(confusion.sum(1, keepdims=True), 1)
    share = confusion / totals
    top = label_w + 20
    cv2.putText(img, "rows: true, columns: predicted", (4, 14), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    for i in range(n):
        for j in range(n):
            x0, y0 = label_w + j * cell, top + i * cell
            level = int(255 - 200 * share[i, j])
            color = (255, level, level) if i != j else (level, 255, level)  # RGB: errors red, hits green
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), color, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), (180, 180, 180), 1)
            if confusion[i, j]:
                text = str(int(confusion[i, j]))
                tw = cv2.getTextSize(text, font, scale, 1)[0][0]
                cv2.putText(img, text, (x0 + (cell - tw) // 2, y0 + cell // 2 + 5), font, scale, (0, 0, 0), 1,
                            cv2.LINE_AA)
        cv2.putText(img, names[i], (4, top + i * cell + cell // 2 + 5), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    # column labels: write horizontally on a strip, then rotate it upright
    strip = np.full((n * cell, label_w, 3), 255, np.uint8)
    for j, name in enumerate(names):
        cv2.putText(strip, name, (4, j * cell + cell // 2 + 5), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    img[20 : 20 + label_w, label_w : label_w + n * cell] = np.rot90(strip)[: label_w]
    return img


def write_outputs(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """``evaluation.json`` and ``confusion.png`` in ``out``, each written atomically."""
    from pipelines.common.files import write_text_atomic
    from pipelines.common.images import save_image

    paths = {"json": out / "evaluation.json", "png": out / "confusion.png"}
    save_image(confusion_image(np.asarray(report["confusion"]), report["labels"]), paths["png"])
    write_text_atomic(json.dumps(report, indent=2) + "\n", paths["json"])
    return paths


def format_table(report: dict[str, Any]) -> str:
    head = f"{'degradation':18s}{'n':>6s}{'acc':>8s}{'zero-shot':>11s}{'cos ctrl':>10s}{'cos plain':>11s}"
    lines = [head]
    for row in report["per_degradation"]:
        lines.append(f"{row['degradation']:18s}{row['samples']:6d}{row['accuracy']:8.3f}"
                     f"{row['zero_shot_accuracy']:11.3f}{row['cosine_hq_controlled']:10.3f}{row['cosine_hq_plain']:11.3f}")
    lines.append(f"{'all':18s}{report['samples']:6d}{report['accuracy']:8.3f}"
                 f"{report['baseline_zero_shot_accuracy']:11.3f}{report['cosine_hq_controlled']:10.3f}"
                 f"{report['cosine_hq_plain']:11.3f}")
    return "\n".join(lines)


@click.command("evaluate")
@click.option("--shards", "manifests", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
              help="Manifest(s) to evaluate on, e.g. manifests/val.parquet (repeatable).")
@click.option("--ckpt", default=lambda: os.environ.get("DACLIP_CKPT", DEFAULT_CKPT), show_default=DEFAULT_CKPT,
              help="Run folder or checkpoint folder of train-daclip (env DACLIP_CKPT).")
@click.option("--split", default=None, help="Only rows of this split (e.g. val).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for evaluation.json and confusion.png.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--device", default="auto", show_default=True)
@click.option("--max-samples", default=None, type=click.IntRange(min=1), help="Stop after about this many samples.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON report instead of the table.")
def command(manifests, ckpt, split, out, batch_size, workers, device, max_samples, as_json) -> None:
    """Degradation accuracy, confusion matrix and LQ->HQ content cosine of a trained DA-CLIP."""
    import daclip

    try:
        dev = resolve_device(device)
        model = daclip.load(ckpt, device=dev)
        report = evaluate_model(model, manifests, split=split, batch_size=batch_size, workers=workers, device=dev,
                                max_samples=max_samples)
    except (FileNotFoundError, ValueError) as exn:
        raise click.ClickException(str(exn)) from None
    report["checkpoint"] = str(ckpt)
    if out:
        paths = write_outputs(report, Path(out))
        report["outputs"] = {k: str(v) for k, v in paths.items()}
    click.echo(json.dumps(report, indent=2) if as_json else format_table(report))
    if out and not as_json:
        click.echo(f"wrote {report['outputs']['json']} and {report['outputs']['png']}")
