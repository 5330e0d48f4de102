"""``make-dataset export-csv``: the original DA-CLIP training CSV from a manifest.

DA-CLIP's trainer (an open_clip fork) reads a tab-separated file with columns ``filepath`` (the
LQ image) and ``title`` (``"<caption>: <degradation>"``), and loads each image from disk. This
module extracts the LQ members of the manifest's shards into DA-CLIP's folder layout
``<image-root>/<degradation>/LQ/<key>.<ext>`` (``GT`` beside it with ``--with-gt``) and writes
the CSV, so data built here can be trained with the original code and vice versa.

Nothing in a manifest or shard decides where a file is written: the manifest is validated
(known degradation names, dot-free keys, plain member suffixes), every target path goes through
:func:`~pipelines.common.files.safe_join` under ``--image-root``, members are read through the
safe tar reader and images are checked against ``--max-pixels`` from their headers.

Parse a title with ``title.rsplit(": ", 1)``: DA-CLIP's own ``title.split(": ")`` breaks on a
caption that itself holds ``": "``; such rows are counted in the report.

The original CSV holds one degradation name per row, so mixture rows (``hazy+rainy``, the ``mix``,
``wild`` and CDD-11 mixtures) are dropped and counted by default; ``--mixtures joined`` keeps them with
the label as the title's degradation text (``"<caption>: hazy+rainy"``, folder ``hazy--rainy``), which
DA-CLIP's loader reads as an unknown class name.

Ingested photos without ground truth: the CSV names only the LQ image, so a row with no HQ member
is exported like any other; ``--with-gt`` has no clean image to write for it (counted,
``no_gt``). Rows labelled ``unknown`` are left out (counted): the title's degradation is what
DA-CLIP learns, and ``unknown`` is not one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd

from degradations.labels import UNKNOWN

from ..common.cli import manifest_inputs
from ..common.files import read_regular, safe_join, write_bytes_atomic
from ..common.images import DEFAULT_MAX_PIXELS, check_pixels
from ..common.locks import output_locks
from ..common.tars import iter_members
from ..manifest.schema import HQ, LQ, read_manifest, task_slug

__all__ = ["ExportReport", "command", "export_csv", "title_for"]

log = logging.getLogger(__name__)

SEPARATOR = ": "
MISSING_POLICIES = ("skip", "error")
MIXTURE_POLICIES = ("drop", "joined")


@dataclass(frozen=True)
class ExportReport:
    rows: int  # ok rows in the manifest
    written: int  # rows in the CSV
    skipped_no_caption: int
    colon_in_caption: int  # captions holding ": " (the original split(": ") would fail on them)
    dropped_mixtures: int  # mixture rows left out (the original CSV holds one type per row)
    images_written: int  # image files extracted this run (existing identical files are kept)
    out: str
    image_root: str
    skipped_unknown: int = 0  # rows labelled unknown: no degradation for the title
    no_gt: int = 0  # with --with-gt: CSV rows without a clean image (ingested LQ-only), so no GT file

    def dropped_line(self) -> str | None:
        """One line on what LQ-only data lost in the export, or None when nothing was."""
        parts = []
        if self.skipped_unknown:
            parts.append(f"left out {self.skipped_unknown} rows labelled {UNKNOWN} (the title needs a degradation)")
        if self.no_gt:
            parts.append(f"{self.no_gt} rows have no clean image: their LQ is in the CSV, no GT file is written")
        return "; ".join(parts) or None


def title_for(caption: str, degradation: str) -> str:
    """DA-CLIP's ``title``: ``"<caption>: <degradation>"``."""
    return f"{caption}{SEPARATOR}{degradation}"


def _member_suffix(members: str, stem: str) -> str | None:
    """The suffix of the ``stem`` image member (``members`` was checked by the validator)."""
    return next((s for s in json.loads(members) if s.startswith(f"{stem}.")), None)


def _same_file(path: Path, data: bytes) -> bool:
    if not path.is_file() or path.stat().st_size != len(data):
        return False
    return hashlib.sha256(read_regular(path)).digest() == hashlib.sha256(data).digest()


def _extract(shard_path: str, targets: dict[str, Path], max_pixels: int | None) -> int:
    """Copy the named members of one tar (through the safe tar reader; images within
    ``max_pixels``) to their target files; returns files written."""
    written = 0
    found: set[str] = set()
    for name, data in iter_members(shard_path, select=targets.__contains__):
        check_pixels(data, max_pixels)
        found.add(name)
        if not _same_file(targets[name], data):
            write_bytes_atomic(data, targets[name])
            written += 1
    missing = sorted(set(targets) - found)
    if missing:
        raise FileNotFoundError(f"{shard_path}: members missing from the shard: {missing[:3]}")
    return written


def _exportable_rows(manifest: str | os.PathLike, mixtures: str) -> tuple[pd.DataFrame, int, int]:
    """The manifest's ok rows less those of unknown degradation and (``mixtures="drop"``) mixtures;
    with the two counts dropped."""
    frame = read_manifest(manifest, status="ok")
    if frame.empty:
        raise ValueError(f"{manifest} has no ok rows to export")
    unknown = (frame["degradation"].astype(str).str.strip().str.lower() == UNKNOWN).to_numpy()
    skipped_unknown = int(unknown.sum())
    frame = frame[~unknown].reset_index(drop=True)
    is_mixture = frame["degradations"].map(lambda parts: parts is not None and len(parts) > 1).astype(bool)
    dropped_mixtures = int(is_mixture.sum()) if mixtures == "drop" else 0
    if dropped_mixtures:
        frame = frame[~is_mixture].reset_index(drop=True)
        if frame.empty:
            raise ValueError(f"{manifest} holds only mixtures, which DA-CLIP's CSV cannot hold "
                             "(one degradation per row); use --mixtures joined to keep them")
    return frame, skipped_unknown, dropped_mixtures


def export_csv(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    image_root: str | os.PathLike,
    missing_caption: str = "skip",
    with_gt: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    mixtures: str = "drop",
) -> ExportReport:
    """Write DA-CLIP's ``filepath``/``title`` TSV for a manifest's ok rows and extract their images.

    Rows without a caption are skipped and counted (``missing_caption="error"`` refuses
    instead, before anything is written). Paths in the CSV are absolute. The CSV is written
    atomically, after all images are in place; a rerun keeps identical image files. Every image
    path is checked to stay under ``image_root`` (:func:`~pipelines.common.files.safe_join`).
    """
    if missing_caption not in MISSING_POLICIES:
        raise ValueError(f"missing_caption must be one of {MISSING_POLICIES}, got {missing_caption!r}")
    if mixtures not in MIXTURE_POLICIES:
        raise ValueError(f"mixtures must be one of {MIXTURE_POLICIES}, got {mixtures!r}")
    frame, skipped_unknown, dropped_mixtures = _exportable_rows(manifest, mixtures)
    captioned = frame["caption"].map(lambda c: isinstance(c, str) and c.strip() != "").astype(bool)
    skipped = int((~captioned).sum())
    if skipped and missing_caption == "error":
        raise ValueError(
            f"{skipped} of {len(frame)} rows of {manifest} have no caption; run `make-dataset caption` first"
        )
    frame = frame[captioned].reset_index(drop=True)
    root = Path(image_root).resolve()
    with output_locks({Path(out).parent: 0, root: 2}):
        filepaths, per_shard, no_gt = _targets(frame, root, manifest, with_gt)
        images_written = sum(_extract(shard, targets, max_pixels) for shard, targets in sorted(per_shard.items()))
        captions = [" ".join(c.split()) for c in frame["caption"]]
        table = pd.DataFrame(
            {"filepath": filepaths, "title": [title_for(c, d) for c, d in zip(captions, frame["degradation"])]}
        )
        colon = sum(SEPARATOR in c for c in captions)
        if colon:
            log.warning("%d captions contain %r: parse titles with rsplit(': ', 1)", colon, SEPARATOR)
        out = Path(out)
        write_bytes_atomic(table.to_csv(sep="\t", index=False).encode("utf-8"), out)
    return ExportReport(
        rows=len(frame) + skipped + dropped_mixtures + skipped_unknown,
        written=len(table),
        skipped_no_caption=skipped,
        colon_in_caption=colon,
        dropped_mixtures=dropped_mixtures,
        images_written=images_written,
        out=str(out),
        image_root=str(root),
        skipped_unknown=skipped_unknown,
        no_gt=no_gt,
    )


def _targets(frame: pd.DataFrame, root: Path, manifest: str | os.PathLike,
             with_gt: bool) -> tuple[list[str], dict[str, dict[str, Path]], int]:
    """CSV file paths (LQ), per shard member name -> target file (all under ``root``), and the
    number of rows whose GT could not be written (no HQ member: ingested without ground truth)."""
    filepaths: list[str] = []
    no_gt = 0
    per_shard: dict[str, dict[str, Path]] = {}
    stems = [(LQ, "LQ")] + ([(HQ, "GT")] if with_gt else [])
    for key, degradation, members, shard_path in zip(
        frame["key"], frame["degradation"], frame["members"], frame["shard_path"]
    ):
        for stem, folder in stems:
            suffix = _member_suffix(members, stem)
            if suffix is None and stem == HQ:  # the validator allows this only for LQ-only ingested rows
                no_gt += 1
                continue
            if suffix is None:
                raise ValueError(f"{manifest}: row {key} lists no {stem} member")
            target = safe_join(root, task_slug(degradation), folder, f"{key}.{suffix.split('.', 1)[1]}")
            per_shard.setdefault(shard_path, {})[f"{key}.{suffix}"] = target
            if stem == LQ:
                filepaths.append(str(target))
    return filepaths, per_shard, no_gt


@click.command("export-csv")
@manifest_inputs(click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
                 help="The manifest to export, e.g. manifests/train.parquet (one; --manifest or positional).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV to write.")
@click.option(
    "--image-root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the extracted images: <degradation>/LQ/<key>.<ext>.",
)
@click.option(
    "--missing-caption",
    type=click.Choice(MISSING_POLICIES),
    default="skip",
    show_default=True,
    help="Rows without a caption: skip them (counted) or refuse to export.",
)
@click.option("--with-gt", is_flag=True, help="Also extract the clean images to <degradation>/GT/.")
@click.option("--mixtures", type=click.Choice(MIXTURE_POLICIES), default="drop", show_default=True,
              help="Mixture rows: drop them (DA-CLIP's CSV holds one degradation per row) or keep them "
                   "with the joined label (a+b) as the degradation text.")
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1),
              help="Refuse image members with more pixels (read from their headers).")
def command(manifests: tuple[Path, ...], out: Path, image_root: Path, missing_caption: str, with_gt: bool,
            max_pixels: int, mixtures: str) -> None:
    """Write DA-CLIP's tab-separated training CSV (filepath, title = "<caption>: <degradation>")."""
    if len(manifests) != 1:
        raise click.UsageError("export-csv exports one manifest (merge several first)")
    manifest = manifests[0]
    report = export_csv(manifest, out, image_root, missing_caption=missing_caption, with_gt=with_gt,
                        max_pixels=max_pixels, mixtures=mixtures)
    click.echo(
        f"wrote {report.written} rows to {report.out} ({report.images_written} images extracted under "
        f"{report.image_root}); skipped {report.skipped_no_caption} rows without a caption"
    )
    if report.dropped_mixtures:
        click.echo(f"dropped {report.dropped_mixtures} mixture rows: DA-CLIP's CSV holds one degradation per row "
                   "(--mixtures joined keeps them as 'a+b')", err=True)
    if report.dropped_line():
        click.echo(report.dropped_line())
    if report.colon_in_caption:
        click.echo(
            f"{report.colon_in_caption} captions contain ': '; the original DA-CLIP loader splits with "
            "title.split(': ') and fails on them (use rsplit(': ', 1))",
            err=True,
        )
