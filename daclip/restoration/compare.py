"""``daclip compare``: one picture of LQ | restored | HQ per image, with DA-CLIP's prediction and PSNR.

For each LQ image the restored image is ``RESTORED/<stem>.png`` (what ``daclip restore`` writes) and
the clean one, when there is one, ``<stem>.hq.png`` beside the LQ (what ``make-dataset degrade --hq``
writes) or ``--hq DIR/<stem>.png``. Each row is captioned with the type DA-CLIP predicts and its
probability (``--daclip``) and, where the clean image exists, the PSNR of LQ and restored against it.
``make demo`` ends with this picture.
"""

from __future__ import annotations

from pathlib import Path

import click
import cv2
import numpy as np

from pipelines.common.cli import OldSpellings
from pipelines.common.images import load_image, save_image

from .evaluate import make_grid
from .metrics import psnr

__all__ = ["captioned", "command", "compare_images"]


def captioned(img: np.ndarray, lines: list[str], height: int = 160, line_px: int = 16) -> np.ndarray:
    """``img`` at ``height`` px with text lines on a white strip below it."""
    h, w = img.shape[:2]
    width = max(1, round(w * height / h))
    cell = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_NEAREST)
    strip = np.full((line_px * len(lines) + 6, width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(strip, line, (3, line_px * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([cell, strip], axis=0)


def _hq_path(lq: Path, hq_dir: Path | None) -> Path | None:
    for candidate in ([hq_dir / f"{lq.stem}.png"] if hq_dir else []) + [lq.with_name(f"{lq.stem}.hq.png")]:
        if candidate.is_file():
            return candidate
    return None


def compare_images(lqs: list[Path], restored_dir: Path, out: Path, daclip: str | None = None,
                   hq_dir: Path | None = None, height: int = 160) -> list[dict]:
    """Write the comparison picture to ``out``; returns one record per image."""
    predictions = {}
    if daclip:
        import daclip as daclip_pkg

        from ..controller.classify import classify_images

        model = daclip_pkg.load(daclip)
        predictions = {p.image: p for p in classify_images(model, [str(p) for p in lqs], model.logit_scale.device)}
    rows, records = [], []
    for lq_path in lqs:
        lq = load_image(lq_path)
        restored = load_image(restored_dir / f"{lq_path.stem}.png")
        hq_path = _hq_path(lq_path, hq_dir)
        hq = load_image(hq_path) if hq_path else None
        pred = predictions.get(str(lq_path))
        record = {"image": str(lq_path), "restored": str(restored_dir / f"{lq_path.stem}.png"),
                  "hq": str(hq_path) if hq_path else None,
                  "predicted": pred.degradation if pred else None, "probability": pred.probability if pred else None}
        label = f"DA-CLIP: {pred.degradation} {pred.probability:.2f}" if pred else "LQ"
        restored_lines = ["restored"]
        if hq is not None:
            record["psnr_lq"], record["psnr_restored"] = psnr(lq, hq), psnr(restored, hq)
            restored_lines = [f"restored: {record['psnr_restored']:.2f} dB", f"(LQ {record['psnr_lq']:.2f} dB)"]
        cells = [captioned(lq, [lq_path.stem, label], height), captioned(restored, restored_lines, height)]
        cells.append(captioned(hq if hq is not None else np.full_like(lq, 255), ["HQ" if hq is not None else
                                                                                 "no clean image", ""], height))
        rows.append(tuple(cells))
        records.append(record)
    grid_height = max(r[0].shape[0] for r in rows)
    save_image(make_grid(rows, height=grid_height), out)
    return records


@click.command("compare")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--restored", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of restored images (<stem>.png), e.g. daclip restore --out.")
@click.option("--hq", "hq_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of clean images (<stem>.png); default: <stem>.hq.png beside each LQ image.")
@click.option("--daclip", default=None, help="DA-CLIP checkpoint whose prediction captions each row.")
@click.option("--out", "-o", cls=OldSpellings, required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Picture to write.")
def command(images, restored, hq_dir, daclip, out) -> None:
    """One picture of LQ | restored | HQ rows for IMAGES, with predicted type and PSNR."""
    try:
        records = compare_images(list(images), restored, out, daclip=daclip, hq_dir=hq_dir)
    except (FileNotFoundError, ValueError) as exn:
        raise click.ClickException(str(exn)) from None
    for r in records:
        score = f", PSNR {r['psnr_lq']:.2f} -> {r['psnr_restored']:.2f} dB" if "psnr_lq" in r else ""
        pred = f" (predicted {r['predicted']} {r['probability']:.2f})" if r["predicted"] else ""
        click.echo(f"{r['image']}{pred}{score}")
    click.echo(f"wrote {out}")
