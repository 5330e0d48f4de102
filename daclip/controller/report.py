"""What ``daclip evaluate`` writes and prints: the confusion matrix as a picture,
``evaluation.json`` + ``confusion.png``, and the report as text tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["confusion_image", "format_table", "write_outputs"]


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
    """The report as text: single-type accuracy table, per-type precision/recall, mixtures, unknown rows."""
    lines = []
    if report["per_degradation"]:
        lines.append(f"{'degradation':18s}{'n':>6s}{'acc':>8s}{'zero-shot':>11s}{'cos ctrl':>10s}{'cos plain':>11s}")
        for row in report["per_degradation"]:
            lines.append(f"{row['degradation']:18s}{row['samples']:6d}{row['accuracy']:8.3f}"
                         f"{row['zero_shot_accuracy']:11.3f}{_num(row['cosine_hq_controlled'], 10)}"
                         f"{_num(row['cosine_hq_plain'], 11)}")
        lines.append(f"{'all':18s}{report['single_samples']:6d}{report['accuracy']:8.3f}"
                     f"{report['baseline_zero_shot_accuracy']:11.3f}{_num(report['cosine_hq_controlled'], 10)}"
                     f"{_num(report['cosine_hq_plain'], 11)}")
        lines.append("")
    lines.append(f"per type over {report['single_samples'] + report['mixture_samples']} labelled row(s) "
                 f"({report['probability_kind']} >= {report['threshold']:.2f}):")
    lines.append(f"{'type':18s}{'support':>8s}{'predicted':>10s}{'precision':>11s}{'recall':>8s}"
                 f"{'mix recall':>12s}")
    mix_recall = {row["degradation"]: row["recall"] for row in report["mixtures"]["per_type"]}
    for row in report["per_type"]:
        lines.append(f"{row['degradation']:18s}{row['support']:8d}{row['predicted']:10d}"
                     f"{_num(row['precision'], 11)}{_num(row['recall'], 8)}"
                     f"{_num(mix_recall.get(row['degradation']), 12)}")
    lines.append(f"exact-set accuracy: {_num(report['exact_set_accuracy'], 0).strip()} (all labelled), "
                 f"{_num(report['mixtures']['exact_set_accuracy'], 0).strip()} "
                 f"({report['mixture_samples']} mixture row(s))")
    unknown = report["unknown"]
    if unknown["samples"]:
        top = ", ".join(f"{name} {n}" for name, n in unknown["top1"].items())
        lines.append(f"unknown: {unknown['samples']} row(s), not scored; predicted top-1: {top}")
    if not report["content_samples"]:
        lines.append(f"content metrics {report['content_metrics']}")
    return "\n".join(lines)


def _num(value: float | None, width: int) -> str:
    return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}s}"
