"""``make-dataset preview``: a contact sheet of one image under every degradation and severity.

Rows are degradation types (in ``degradations.NAMES`` order), then mixtures (``hazy+rainy``, the
CDD-11 set with ``cdd11``) and the ``wild`` chain in the order given; columns are the clean image and
the severities light / medium / heavy / random (the wild chain has no severity: its columns are
seeds ``seed .. seed+3``); labels sit in a left margin and a header row, so the
cells hold only image pixels. The photo is first resized so its longer side is ``size`` px, then
degraded at that size with ``seed`` (the sheet shows what a dataset at that resolution gets).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np

import degradations as D
from degradations import mixtures

from ..common.cli import OldSpellings
from ..common.images import load_image, save_image

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("clean", "light", "medium", "heavy", "random")
HEADER = 24  # px: the row of column labels
PAD = 4  # px between cells and around the sheet
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.45
BACKGROUND = 245


@dataclass(frozen=True)
class Layout:
    """Where each cell sits on the sheet (pixels)."""

    rows: int
    cols: int
    cell_h: int
    cell_w: int
    label_w: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (
            HEADER + self.rows * (self.cell_h + PAD) + PAD,
            self.label_w + self.cols * (self.cell_w + PAD) + PAD,
            3,
        )

    def cell(self, row: int, col: int) -> tuple[slice, slice]:
        y0 = HEADER + PAD + row * (self.cell_h + PAD)
        x0 = self.label_w + PAD + col * (self.cell_w + PAD)
        return slice(y0, y0 + self.cell_h), slice(x0, x0 + self.cell_w)


def resolve_tasks(tasks: Sequence[str]) -> list[str]:
    """Rows for ``tasks``: DA-CLIP names (names, aliases or ``all``) in NAMES order, then mixtures
    (``a+b``, ``cdd11``) and ``wild`` in the order given, deduplicated."""
    if not tasks:
        raise ValueError("give at least one --task (a degradation name, an alias, a+b, cdd11, wild or 'all')")
    wanted: set[str] = set()
    others: list[str] = []
    for task in tasks:
        text = task.strip().lower()
        if text == "all":
            wanted.update(D.NAMES)
            continue
        if text == mixtures.MIX:
            raise ValueError("preview shows fixed rows: name mixtures (a+b, cdd11) instead of 'mix'")
        for name in mixtures.CDD11 if text == mixtures.CDD11_TASK else (mixtures.canonical_task(task),):
            if name in D.NAMES:
                wanted.add(name)
            elif name not in others:
                others.append(name)
    return [name for name in D.NAMES if name in wanted] + others


def degrade_cell(clean: np.ndarray, task: str, seed: int, severity: str, column: int) -> np.ndarray:
    """One cell: a type or mixture at ``severity``, or the wild chain with seed ``seed + column``."""
    if task == mixtures.WILD:
        return D.replay(clean, mixtures.sample_task(task, np.random.default_rng(seed + column), clean.shape)).lq
    parts = mixtures.split_label(task)
    if len(parts) == 1:
        return D.degrade(clean, parts[0], seed=seed, severity=severity)[0]
    return D.compose(clean, parts, seed=seed, severity=severity)[0]


def cell_size(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    """(height, width) of a cell: the image scaled so its longer side is ``size``."""
    h, w = shape[:2]
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def layout_for(n_rows: int, shape: tuple[int, ...], size: int, names: Sequence[str]) -> Layout:
    cell_h, cell_w = cell_size(shape, size)
    text_w = max((cv2.getTextSize(n, FONT, FONT_SCALE, 1)[0][0] for n in names), default=0)
    return Layout(rows=n_rows, cols=len(COLUMNS), cell_h=cell_h, cell_w=cell_w, label_w=text_w + 2 * PAD)


def contact_sheet(img: np.ndarray, tasks: Sequence[str], seed: int = 0, size: int = 256) -> np.ndarray:
    """The contact sheet as an RGB uint8 array (rows: types, columns: clean + severities)."""
    names = resolve_tasks(tasks)
    img = D.to_rgb8(img)
    layout = layout_for(len(names), img.shape, size, names)
    clean = cv2.resize(img, (layout.cell_w, layout.cell_h), interpolation=cv2.INTER_AREA)
    sheet = np.full(layout.shape, BACKGROUND, np.uint8)
    for col, label in enumerate(COLUMNS):
        ys, xs = layout.cell(0, col)
        _text(sheet, label, xs.start + 2, HEADER - 7)
    for row, name in enumerate(names):
        ys, _ = layout.cell(row, 0)
        _text(sheet, name, PAD, ys.start + min(layout.cell_h, 2 * HEADER) // 2 + 5)
        for col, severity in enumerate(COLUMNS):
            cell = clean if severity == "clean" else degrade_cell(clean, name, seed, severity, col - 1)
            sheet[layout.cell(row, col)] = cell
    return sheet


def _text(sheet: np.ndarray, text: str, x: int, y: int) -> None:
    cv2.putText(sheet, text, (x, y), FONT, FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)


def preview(image: Path | None, tasks: Sequence[str], output: Path, seed: int = 0, size: int = 256) -> np.ndarray:
    """Read ``image`` (default: scikit-image's astronaut), build the sheet, write it to ``output``."""
    if image is None:
        from skimage import data

        img = data.astronaut()
    else:
        img = load_image(image)
    sheet = contact_sheet(img, tasks, seed=seed, size=size)
    save_image(sheet, output)
    log.debug("wrote %s (%dx%d)", output, sheet.shape[1], sheet.shape[0])
    return sheet


@click.command("preview")
@click.argument("image", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--task",
    "tasks",
    multiple=True,
    default=("all",),
    show_default=True,
    help="Degradation name or alias (blur, haze, jpeg, ...), a mixture a+b, 'cdd11' or 'wild'; repeat it, or 'all'.",
)
@click.option("--out", "-o", "--output", "output", cls=OldSpellings, type=click.Path(dir_okay=False, path_type=Path), default=Path("preview.png"),
              show_default=True, help="Where to write the sheet (.png, .jpg or .webp).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every cell.")
@click.option("--size", type=click.IntRange(16, 4096), default=256, show_default=True,
              help="Longer side of each cell in pixels.")
def command(image: Path | None, tasks: tuple[str, ...], output: Path, seed: int, size: int) -> None:
    """Contact sheet of IMAGE under every degradation type (rows) and severity (columns)."""
    if image is None:
        click.echo("no IMAGE given: using scikit-image's astronaut sample photo")
    try:
        sheet = preview(image, tasks, output, seed=seed, size=size)
    except ValueError as exc:  # unknown task, undecodable image, unsupported output suffix
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {output} ({sheet.shape[1]}x{sheet.shape[0]} px, {len(resolve_tasks(tasks))} rows x "
               f"{len(COLUMNS)} columns)")
