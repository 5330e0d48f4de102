"""DA-CLIP on real degraded photos: top-1 per type, for several ``--crops`` settings, beside the
synthetic validation accuracy when a manifest is given.

Real photos come from ``../shared/reference/real-examples/`` (``<type>.png``, one per type) and from
any folder given with ``--real DIR`` laid out as ``DIR/<type>/LQ/*`` (or ``DIR/<type>/*``), type
names as DA-CLIP spells them. JSON on stdout.

    python bench/real_photos.py [--ckpt demo_weights/daclip] [--crops 0 4 9] [--real DIR] [--val manifests/val.parquet]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from degradations import NAMES  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real-examples"
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def real_photos(folders: list[Path]) -> list[tuple[str, Path]]:
    photos = [(p.stem, p) for p in sorted(EXAMPLES.glob("*.png")) if p.stem in NAMES] if EXAMPLES.is_dir() else []
    for root in folders:
        for name in NAMES:
            base = root / name / "LQ" if (root / name / "LQ").is_dir() else root / name
            photos += [(name, p) for p in sorted(base.glob("*")) if p.suffix.lower() in SUFFIXES]
    return photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default="demo_weights/daclip")
    parser.add_argument("--crops", type=int, nargs="*", default=[0, 4, 9])
    parser.add_argument("--real", type=Path, action="append", default=[])
    parser.add_argument("--val", default=None, help="A manifest for the synthetic validation figure.")
    args = parser.parse_args()
    from daclip.controller.classify import classify_images
    from daclip.loading import load

    torch.manual_seed(0)
    model = load(args.ckpt)
    photos = real_photos(args.real)
    result = {"benchmark": "DA-CLIP top-1 on real degraded photos", "checkpoint": args.ckpt,
              "photos": len(photos), "per_type_photos": dict(Counter(t for t, _ in photos)), "crops": {}}
    for crops in args.crops:
        preds = classify_images(model, [p for _, p in photos], torch.device("cpu"), crops=crops)
        right = Counter(t for (t, _), pred in zip(photos, preds) if pred.degradation == t)
        result["crops"][str(crops)] = {
            "top1": round(sum(right.values()) / max(1, len(photos)), 4),
            "per_type": {t: f"{right[t]}/{n}" for t, n in result["per_type_photos"].items()},
            "predicted": {p.name: pred.degradation for (_, p), pred in zip(photos, preds)} if len(photos) <= 20 else None,
        }
    if args.val:
        from daclip.controller.evaluate import evaluate_model

        report = evaluate_model(model, [args.val], split=None, batch_size=32, workers=0, device=torch.device("cpu"))
        result["synthetic_val_top1"] = report["accuracy"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
