"""``daclip classify IMG...``: the degradations of each image, most likely first, with probabilities.

Each image is resized (shorter side) and centre-cropped to the model's input size, like CLIP's
val transform, then classified by the trained controller over the ten DA-CLIP degradations.
Every type whose probability reaches ``--threshold`` is listed (``types``), most likely first:
sigmoid probabilities for a multi-label model (default threshold 0.5), softmax ones for a
single-type model (default 0.25, see :data:`~daclip.controller.metrics.DEFAULT_THRESHOLDS`).
The top-1 (``degradation``, ``probability``) is always reported, even when nothing reaches the
threshold. ``--crops N`` classifies N native-resolution crops instead and averages their
probabilities (:mod:`daclip.controller.crops`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import torch

from degradations import NAMES
from pipelines.common.devices import resolve_device

from .crops import native_crops
from .metrics import THRESHOLD_HELP, default_threshold, predicted_types

DEFAULT_CKPT = "runs/daclip"


@dataclass(frozen=True)
class Prediction:
    image: str
    degradation: str | None
    probability: float | None
    probabilities: dict[str, float] | None
    error: str | None = None
    types: list[str] = field(default_factory=list)  # every type >= threshold, most likely first
    threshold: float | None = None
    probability_kind: str | None = None  # "sigmoid" (multi-label model) or "softmax"


def image_probabilities(model, image: torch.Tensor, crops: int = 0) -> torch.Tensor:
    """Probabilities over the ten types of one 3 x H x W image in [0, 1]: of the resized whole view
    (``crops=0``), or the mean over ``crops`` native-resolution crops (the whole view when too small)."""
    views = native_crops(image, int(model.image_size), crops) if crops else None
    x = model.preprocess_tensor(image[None] if views is None else views)
    return model.classify(x).float().mean(0).cpu()


def classify_images(model, paths: Sequence[str | os.PathLike], device: torch.device,
                    threshold: float | None = None, crops: int = 0) -> list[Prediction]:
    """Classify image files one at a time; an unreadable file becomes a Prediction with ``error``.

    ``threshold``: probability a type needs to be listed in ``types`` (default: by the model's kind);
    ``crops``: see :func:`image_probabilities`.
    """
    from pipelines.common.images import load_image

    from ..data.transforms import to_float

    kind = model.probability_kind
    threshold = default_threshold(kind) if threshold is None else float(threshold)
    results = []
    for path in paths:
        try:
            img = load_image(path)
        except Exception as exn:  # reported per image, never stops the others
            results.append(Prediction(str(path), None, None, None, error=str(exn)))
            continue
        probs = image_probabilities(model, to_float(img).to(device), crops)
        top = int(probs.argmax())
        results.append(Prediction(
            image=str(path),
            degradation=NAMES[top],
            probability=round(float(probs[top]), 6),
            probabilities={name: round(float(p), 6) for name, p in zip(NAMES, probs)},
            types=predicted_types(probs.numpy(), threshold),
            threshold=threshold,
            probability_kind=kind,
        ))
    return results


def format_text(pred: Prediction, top_k: int) -> str:
    if pred.error:
        return f"{pred.image}: ERROR {pred.error}"
    ranked = sorted(pred.probabilities.items(), key=lambda kv: -kv[1])[:top_k]
    rest = ", ".join(f"{name} {p:.3f}" for name, p in ranked[1:])
    listed = "+".join(pred.types) if pred.types else "none"
    return (f"{pred.image}: {pred.degradation} ({pred.probability:.3f})" + (f"  [{rest}]" if rest else "")
            + f"  {pred.probability_kind} >= {pred.threshold:.2f}: {listed}")


@click.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--ckpt", default=lambda: os.environ.get("DACLIP_CKPT", DEFAULT_CKPT), show_default=DEFAULT_CKPT,
              help="Run folder or checkpoint folder of train-daclip (env DACLIP_CKPT).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list with all probabilities.")
@click.option("--top-k", default=3, show_default=True, type=click.IntRange(1, len(NAMES)),
              help="Probabilities shown per image in text mode.")
@click.option("--threshold", default=None, type=click.FloatRange(0, 1),
              help=THRESHOLD_HELP)
@click.option("--crops", default=0, show_default=True, type=click.IntRange(min=0),
              help="Average over this many native-resolution crops of the model's input size (0: one resized "
                   "view of the whole image).")
@click.option("--device", default="auto", show_default=True)
def command(images: tuple[str, ...], ckpt: str, as_json: bool, top_k: int, threshold: float | None, crops: int,
            device: str) -> None:
    """Print each image's degradations above the threshold (most likely first), its top-1 and probabilities."""
    from ..loading import load

    if not Path(ckpt).exists():
        raise click.ClickException(f"no checkpoint at {ckpt}: pass --ckpt runs/NAME (a train-daclip run folder)")
    try:
        dev = resolve_device(device)
        model = load(ckpt, device=dev)
    except (FileNotFoundError, ValueError) as exn:
        raise click.ClickException(str(exn)) from None
    preds = classify_images(model, images, dev, threshold=threshold, crops=crops)
    if as_json:
        click.echo(json.dumps([asdict(p) for p in preds], indent=2))
    else:
        for pred in preds:
            click.echo(format_text(pred, top_k))
    failed = [p for p in preds if p.error]
    if failed:
        click.echo(f"{len(failed)} of {len(preds)} image(s) could not be read", err=True)
        sys.exit(1)
