"""The captions store: ``manifests/captions.parquet``, its part files, and the manifests' ``caption`` column.

One row per captioned image (``hq_sha256``: the image's sha256) and which image that was
(``image``: ``hq``, or ``lq`` for a row without ground truth captioned with ``--on lq``; null in
stores written before the column existed, which hold only ``hq``): the cleaned caption or why
there is none, and which model and settings made it. This module reads and writes the store (atomically, same content
same bytes), keeps a checkpoint of a running job, folds ``--part`` files in, joins captions
into manifests and imports a user's ``--captions-file``. It knows nothing of BLIP.

Store and manifests may sit on object storage (``s3://...``): paths are then URL strings, every
read goes through :mod:`pipelines.common.remote`, and every write is a complete local file put as
one object (:func:`pipelines.common.files.write_atomic`), so a reader sees the old object or the
new one, never part of one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..common import remote
from ..common.files import open_input
from ..manifest.schema import read_manifest, write_parquet_atomic

__all__ = [
    "CAPTIONS_FILE",
    "CAPTIONS_SCHEMA",
    "PART_PREFIX",
    "STORE_COLUMNS",
    "Checkpoint",
    "caption_key",
    "clean_caption",
    "empty_store",
    "import_captions",
    "join_captions",
    "load_captions",
    "merge_rows",
    "part_files",
    "part_path",
    "read_captions_file",
    "read_store",
    "target_rows",
    "write_captions",
]

CAPTIONS_FILE = "captions.parquet"
PART_PREFIX = "captions.part-"

CAPTIONS_SCHEMA = pa.schema(
    [
        ("hq_sha256", pa.string()),  # sha256 of the captioned image (the HQ member's unless image is "lq")
        ("image", pa.string()),  # "hq" | "lq": the member the caption was made from
        ("caption", pa.string()),  # cleaned; null when captioning failed
        ("error", pa.string()),  # why there is no caption (decode failure, empty output)
        ("model", pa.string()),  # hub id or local path, or "captions-file:<name>" when imported
        ("model_revision", pa.string()),  # hub commit when known
        ("settings", pa.string()),  # JSON: generation settings and dtype
    ]
)
STORE_COLUMNS = tuple(CAPTIONS_SCHEMA.names)


def clean_caption(text: str | None) -> str:
    """Collapse whitespace (newlines, tabs, runs of spaces); tabs would also break DA-CLIP's TSV."""
    return " ".join(str(text or "").split())


# ---------------------------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------------------------


def empty_store() -> pd.DataFrame:
    return CAPTIONS_SCHEMA.empty_table().to_pandas()


def _read_table(path: Path | str) -> pa.Table:
    """A Parquet file, or an object (a URL) read through fsspec."""
    if not remote.is_url(path):
        return pq.read_table(path)
    with open_input(path) as handle:
        return pq.read_table(handle)


def read_store(path: Path | str) -> pd.DataFrame:
    frame = _read_table(path).to_pandas()
    for name in STORE_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return frame[list(STORE_COLUMNS)]


def part_files(manifests_dir: Path | str) -> list[Path | str]:
    if remote.is_url(manifests_dir):
        return [remote.join(manifests_dir, name) for name in remote.listdir(manifests_dir)
                if name.startswith(PART_PREFIX) and name.endswith(".parquet")]
    return sorted(p for p in manifests_dir.glob(f"{PART_PREFIX}*.parquet") if not p.name.startswith("."))


def part_path(manifests_dir: Path | str, part: tuple[int, int]) -> Path | str:
    index, count = part
    return remote.child(manifests_dir, f"{PART_PREFIX}{index:05d}-of-{count:05d}.parquet")


def load_captions(manifests_dir: str | os.PathLike) -> pd.DataFrame:
    """The store plus any part files (later files win), one row per ``hq_sha256``."""
    folder = remote.as_path(manifests_dir)
    store = remote.child(folder, CAPTIONS_FILE)
    paths = [store] if remote.path_exists(store) else []
    paths += part_files(folder)
    if not paths:
        return empty_store()
    frame = pd.concat([read_store(p) for p in paths], ignore_index=True)
    return _dedupe(frame)


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row per image, but never let a later error hide an earlier caption."""
    frame = frame.assign(_ok=frame["caption"].notna())
    frame = frame.reset_index(drop=True).reset_index(names="_order")
    frame = frame.sort_values(["hq_sha256", "_ok", "_order"], kind="mergesort")
    frame = frame.drop_duplicates("hq_sha256", keep="last")
    return (
        frame.drop(columns=["_ok", "_order"])
        .sort_values("hq_sha256", kind="mergesort")
        .reset_index(drop=True)
    )


def write_captions(frame: pd.DataFrame, path: Path | str) -> Path | str:
    """Write a captions store atomically, sorted by ``hq_sha256`` (same content, same bytes)."""
    frame = frame[list(STORE_COLUMNS)].sort_values("hq_sha256", kind="mergesort").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, schema=CAPTIONS_SCHEMA, preserve_index=False)
    return write_parquet_atomic(table, path)


def merge_rows(store: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """New rows win over stored ones, except that a new error never hides a stored caption."""
    if not rows:
        return store
    return _dedupe(pd.concat([store, pd.DataFrame(rows, columns=list(STORE_COLUMNS))], ignore_index=True))


# ---------------------------------------------------------------------------------------------
# Checkpoints of a running job
# ---------------------------------------------------------------------------------------------


def target_rows(store: pd.DataFrame, target: Path | str) -> pd.DataFrame:
    """What the target file keeps besides this run's rows: everything for the main store,
    only its own earlier rows for a part file."""
    if remote.basename(target) == CAPTIONS_FILE:
        return store
    return read_store(target) if remote.path_exists(target) else empty_store()


class Checkpoint:
    """New store rows, written with ``keep`` to ``target`` every ``flush_seconds`` and on the way
    out of the ``with`` block (also when killed), so a rerun only does what is still missing."""

    def __init__(self, keep: pd.DataFrame, target: Path | str, flush_seconds: float) -> None:
        self.keep = keep
        self.target = target
        self.flush_seconds = flush_seconds
        self.rows: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        write_captions(merge_rows(self.keep, self.rows), self.target)
        self._last_flush = time.monotonic()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.rows:
            self.flush()


# ---------------------------------------------------------------------------------------------
# Join into manifests
# ---------------------------------------------------------------------------------------------


def caption_key(hq_sha256: Any, lq_sha256: Any, on: str = "lq") -> str | None:
    """The store key of a row's caption: its HQ hash; without HQ, its LQ hash when ``on`` is ``lq``."""
    if isinstance(hq_sha256, str):
        return hq_sha256
    return lq_sha256 if on == "lq" and isinstance(lq_sha256, str) else None


def join_captions(manifests: Sequence[Path | str], captions: dict[str, str]) -> tuple[int, int]:
    """Fill each manifest's ``caption`` column from ``captions`` (by ``hq_sha256``; a row without
    HQ by ``lq_sha256``, which the store holds only if its LQ image was captioned).

    Rows whose image has no caption keep what they had. Row order, columns and schema are
    kept; a manifest is rewritten (atomically) only when a value changes. Returns
    ``(manifests_updated, ok_rows_with_caption)``.
    """
    updated = with_caption = 0
    for path in manifests:
        table = _read_table(path)
        frame = table.select(
            [c for c in ("hq_sha256", "lq_sha256", "caption", "status") if c in table.column_names]
        ).to_pandas()
        for column in ("caption", "lq_sha256"):
            if column not in frame.columns:
                frame[column] = None
        keys = [caption_key(h, lq) for h, lq in zip(frame["hq_sha256"], frame["lq_sha256"])]
        new = [captions.get(k, old) if k is not None else old for k, old in zip(keys, frame["caption"])]
        new = [v if isinstance(v, str) else None for v in new]
        old = [v if isinstance(v, str) else None for v in frame["caption"]]
        with_caption += sum(1 for v, s in zip(new, frame["status"]) if v is not None and s == "ok")
        if new == old:
            continue
        index = table.schema.get_field_index("caption")
        if index < 0:  # a manifest from before captions existed: add the column
            table = table.append_column(pa.field("caption", pa.string()), pa.array(new, type=pa.string()))
        else:
            column = pa.array(new, type=table.schema.field(index).type)
            table = table.set_column(index, table.schema.field(index), column)
        write_parquet_atomic(table, path)
        updated += 1
    return updated, with_caption


# ---------------------------------------------------------------------------------------------
# --captions-file import
# ---------------------------------------------------------------------------------------------

KEY_COLUMNS = ("hq_sha256", "source", "filepath", "path", "file", "image")


def read_captions_file(path: str | os.PathLike) -> pd.DataFrame:
    """A user's captions: CSV/TSV (tab when the header has one) or Parquet; needs ``caption`` and a key."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"captions file not found: {path}")
    if path.suffix.lower() == ".parquet":
        frame = pq.read_table(path).to_pandas()
    else:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline()
        sep = "\t" if "\t" in header else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "caption" not in frame.columns:
        raise ValueError(f"{path}: needs a 'caption' column (has {list(frame.columns)})")
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    if not keys:
        raise ValueError(f"{path}: needs one of the columns {list(KEY_COLUMNS)} to match images")
    return frame


def _norm_path(value: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(value)))


def _known_images(manifests: Sequence[Path], on: str) -> tuple[dict[str, str], dict[str, str]]:
    """The manifests' images as ``(store key -> "hq" | "lq", source path -> store key)``."""
    by_source: dict[str, str] = {}
    image_of: dict[str, str] = {}
    for path in manifests:
        rows = read_manifest(path, status="ok")
        for source, hq_sha, lq_sha in zip(rows["source"], rows["hq_sha256"], rows["lq_sha256"]):
            hq = caption_key(hq_sha, lq_sha, on)
            if hq is None:
                continue
            image_of.setdefault(hq, "hq" if isinstance(hq_sha, str) else "lq")
            if isinstance(source, str) and source:
                by_source.setdefault(source, hq)
                by_source.setdefault(_norm_path(source), hq)
    return image_of, by_source


def _match(record: dict[str, Any], keys: Sequence[str], known: Container[str], by_source: dict[str, str]) -> str | None:
    """The store key a captions-file row names: by hash, else by source path (first key column that matches)."""
    for column in keys:
        value = record.get(column)
        if not isinstance(value, str) or not value:
            continue
        value = value.strip()
        if column == "hq_sha256":
            hq = value.lower() if value.lower() in known else None
        else:
            hq = by_source.get(value) or by_source.get(_norm_path(value))
        if hq:
            return hq
    return None


def import_captions(
    captions_file: str | os.PathLike, manifests: Sequence[Path], on: str = "hq"
) -> tuple[list[dict[str, Any]], int, int]:
    """Match a user's captions to clean images, by ``hq_sha256`` or by source path (``on="lq"``:
    rows without HQ match by their LQ's hash or source too).

    Returns ``(store rows, unmatched rows, empty captions)``; the first match per image wins.
    """
    frame = read_captions_file(captions_file)
    image_of, by_source = _known_images(manifests, on)
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    name = Path(captions_file).name
    settings = json.dumps({"imported_from": str(captions_file)}, sort_keys=True)
    out: dict[str, dict[str, Any]] = {}
    unmatched = empty = 0
    for record in frame.to_dict("records"):
        hq = _match(record, keys, image_of, by_source)
        if hq is None:
            unmatched += 1
            continue
        text = clean_caption(record.get("caption"))
        if not text:
            empty += 1
            continue
        out.setdefault(hq, {"hq_sha256": hq, "image": image_of[hq], "caption": text, "error": None,
                            "model": f"captions-file:{name}", "model_revision": None, "settings": settings})
    return list(out.values()), unmatched, empty
