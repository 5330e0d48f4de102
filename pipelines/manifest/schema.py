"""The one manifest schema shared by every writer and reader, and the shard member names.

A manifest is a Parquet file with one row per attempted sample (failures included). Shard
paths are stored relative to the manifest's folder, so a dataset folder can be moved as a
whole. ``daclip`` reads manifests only through :func:`read_manifest`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from degradations.labels import MIXTURE_SEP, split_label

from ..common import remote
from ..common.files import open_input, write_atomic

if TYPE_CHECKING:  # pandas is imported by the functions that return frames (workers never need it)
    import pandas as pd

SCHEMA_VERSION = 2  # 2: the ``degradations`` list column (v1 manifests are filled on read; ``migrate`` rewrites)

SCHEMA = pa.schema(
    [
        ("key", pa.string()),  # dot-free, path-free, deterministic from (hq hash, task, variant)
        ("degradation", pa.string()),  # the label: "rainy", a mixture "low-light+hazy" (applied order), "unknown"
        ("degradations", pa.list_(pa.string())),  # its types (degradations.labels.split_label); [] for unknown
        ("origin", pa.string()),  # "synthesized" | "ingested"
        ("split", pa.string()),  # "train" | "val", assigned by hq_sha256
        ("shard", pa.string()),  # tar path relative to the manifest's folder
        ("index_in_shard", pa.int32()),
        ("hq_sha256", pa.string()),  # sha256 of the HQ member bytes as written into the tar
        ("lq_sha256", pa.string()),  # sha256 of the LQ member bytes
        ("source_sha256", pa.string()),  # sha256 of the source file's bytes (dedup)
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("source", pa.string()),  # the input path as given
        ("params", pa.string()),  # JSON: every sampled degradation parameter (null when ingested)
        ("seed", pa.int64()),  # per-sample sub-seed
        ("severity", pa.string()),
        ("variant", pa.int32()),
        ("members", pa.string()),  # JSON list of member suffixes in the tar, e.g. ["hq.png", "json", ...]
        ("status", pa.string()),  # "ok" | "error"
        ("error_message", pa.string()),
        ("caption", pa.string()),  # null until captioned
    ]
)
COLUMNS = tuple(SCHEMA.names)

HQ = "hq"  # member suffix stem: KEY.hq.png / KEY.hq.webp / KEY.hq.jpg
LQ = "lq"
META = "json"


def member_name(key: str, suffix: str) -> str:
    """Tar member name for a sample: ``KEY.<suffix>`` (webdataset's key ends at the first dot)."""
    if "." in key or "/" in key:
        raise ValueError(f"sample keys must contain no dots or slashes: {key!r}")
    return f"{key}.{suffix}"


STATS_SUFFIX = "_stats.json"  # per-shard completion marker, written last
SIZES_FILE = "sizes.json"  # open_clip style: shard basename -> number of samples


SLUG_SEP = "--"  # stands for a mixture's "+" in names: canonical type names never hold "--"


def task_slug(task: str) -> str:
    """A task's name in folders, manifest files, shard stems and sample keys: ``+`` becomes ``--``
    (``low-light+hazy`` -> ``low-light--hazy``), because AWS lists ``+`` among the object-key
    characters that need special handling (URL encoding) and keys allow only ``[A-Za-z0-9_-]``.
    Single types, ``mix`` and ``wild`` are unchanged."""
    return task.replace(MIXTURE_SEP, SLUG_SEP)


def task_from_slug(slug: str) -> str:
    """Inverse of :func:`task_slug`."""
    return slug.replace(SLUG_SEP, MIXTURE_SEP)


def degradations_of(label: str | None) -> list[str] | None:
    """The ``degradations`` column for a ``degradation`` label: its types in order (``[]`` for
    ``unknown``); None for a missing label."""
    return None if label is None else list(split_label(label))


def shard_stem(task: str, shard_id: int, kind: str = "") -> str:
    """``<task>-000042`` (synthesized) or ``<task>-<kind>-000042`` (e.g. ``ingested``): the shared
    stem of a shard's tar, parquet and stats files (``task`` as :func:`task_slug` writes it)."""
    task = task_slug(task)
    return f"{task}-{kind}-{int(shard_id):06d}" if kind else f"{task}-{int(shard_id):06d}"


def shard_stem_pattern(task: str, kind: str = "") -> re.Pattern[str]:
    """Matches exactly the stems :func:`shard_stem` makes for ``task`` and ``kind``."""
    return re.compile(re.escape(task_slug(task)) + (f"-{re.escape(kind)}" if kind else "") + r"-\d{6}")


def make_key(task: str, content_sha256: str, variant: int, error: bool = False) -> str:
    """Deterministic, dot-free sample key from (content hash, task, variant); a mixture task is
    written as its :func:`task_slug` (keys hold no ``+``).

    ``content_sha256`` is the HQ member's hash (the LQ member's for an ingested LQ-only image);
    failed inputs (no HQ) use the source hash and get an ``_error`` suffix, so the two kinds can
    never collide.
    """
    key = f"{task_slug(task)}_{content_sha256[:20]}_{int(variant)}" + ("_error" if error else "")
    member_name(key, "json")  # validates: no dots, no slashes
    return key


def assign_split(content_sha256: str, val_fraction: float) -> str:
    """``val`` for a fixed fraction of content hashes, else ``train``: variants of one clean image
    share the hash, so they never cross the split."""
    if val_fraction <= 0:
        return "train"
    return "val" if int(content_sha256[:16], 16) / 2.0**64 < val_fraction else "train"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, compact): the same object always gives the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def empty_frame() -> pd.DataFrame:
    return SCHEMA.empty_table().to_pandas()


def manifest_version(names: list[str] | tuple[str, ...]) -> int:
    """The schema version of a manifest with these columns: 1 lacks ``degradations``."""
    return SCHEMA_VERSION if "degradations" in names else 1


def _parts_or_none(label: Any) -> list[str] | None:
    try:
        return degradations_of(label)
    except ValueError:  # a bad label: the validator reports it on reading
        return None


def fill_degradations(frame: pd.DataFrame) -> pd.DataFrame:
    """Set the ``degradations`` column of a frame from its labels (each distinct label parsed once)."""
    import pandas as pd  # at run time too: an empty frame (an empty merge split) needs it

    labels = frame["degradation"]
    parts = {label: _parts_or_none(label) for label in labels.dropna().unique()}
    frame["degradations"] = labels.map(parts).astype(object) if len(frame) else pd.Series([], dtype=object)
    return frame


def to_table(frame: pd.DataFrame) -> pa.Table:
    """Conform a frame to :data:`SCHEMA` (missing columns become null, extra columns are dropped).
    ``degradations`` is derived from ``degradation`` here (rows get it in ``rows.base_row``), so a
    frame whose labels were edited, or one read from a v1 manifest, is written consistent."""
    frame = frame.copy()
    if "degradation" in frame.columns:
        fill_degradations(frame)
    for name in COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return pa.Table.from_pandas(frame[list(COLUMNS)], schema=SCHEMA, preserve_index=False)


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts) -> a table with :data:`SCHEMA`; missing fields are null, extra ones dropped."""
    return pa.Table.from_pylist([{name: row.get(name) for name in COLUMNS} for row in rows], schema=SCHEMA)


def write_parquet_atomic(table: pa.Table | pd.DataFrame, path: str | os.PathLike,
                         metadata: dict[bytes, bytes] | None = None) -> Path:
    """Write Parquet (zstd) atomically; a frame is first conformed to :data:`SCHEMA`.
    ``metadata`` is added to the file's schema metadata."""
    if not isinstance(table, pa.Table):
        table = to_table(table)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike, metadata: dict[bytes, bytes] | None = None) -> Path:
    """Write a manifest atomically, rows sorted by key for byte-identical output."""
    frame = frame.sort_values("key", kind="mergesort").reset_index(drop=True) if len(frame) else frame
    return write_parquet_atomic(frame, path, metadata)


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's table, opened as a regular file (never a FIFO or device); any failure to
    read it is a :class:`~pipelines.manifest.validate.ManifestError`."""
    from .validate import ManifestError

    path = remote.as_path(path)
    if not (remote.exists(path) if remote.is_url(path) else path.exists()):
        raise FileNotFoundError(f"manifest not found: {path}")
    try:
        with open_input(path) as handle:
            return pq.read_table(handle, columns=columns)
    except (pa.ArrowException, ValueError, OSError, EOFError) as exc:
        raise ManifestError(f"{path}: not a readable Parquet manifest ({type(exc).__name__}: {exc})") from None


def read_metadata(path: str | os.PathLike) -> dict[bytes, bytes] | None:
    """A Parquet file's schema metadata (footer only)."""
    with open_input(path) as handle:
        return pq.read_schema(handle).metadata


def read_schema_names(path: str | os.PathLike) -> list[str]:
    """A Parquet file's column names (footer only)."""
    with open_input(path) as handle:
        return list(pq.read_schema(handle).names)


def read_manifest(path: str | os.PathLike, status: str | None = "ok", validate: bool = True) -> pd.DataFrame:
    """Read a manifest; add ``shard_path`` (absolute). ``status=None`` keeps failed rows too.
    A v1 manifest (no ``degradations`` column) gets the column from its labels.

    ``validate`` (the default) checks it first with :func:`pipelines.manifest.validate.validate_table`:
    any problem raises one :class:`~pipelines.manifest.validate.ManifestError` naming file, row and problem.
    Each distinct shard is resolved once.
    """
    from .validate import ManifestError, check_partner, validate_table

    path = remote.as_path(path)
    table = read_table(path)
    if validate:
        validate_table(table, path, SCHEMA)
        check_partner(path, table.schema.metadata, read_metadata)
    try:
        frame = table.to_pandas(ignore_metadata=True)
    except (pa.ArrowException, ValueError) as exc:
        raise ManifestError(f"{path}: cannot convert the manifest ({type(exc).__name__}: {exc})") from None
    if "degradations" not in frame.columns:  # a v1 manifest: filled from the labels
        fill_degradations(frame)
    for name in COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    if status is not None:
        frame = frame[frame["status"] == status].reset_index(drop=True)
    shards = frame["shard"]
    names = [s for s in shards.dropna().unique() if isinstance(s, str) and s]
    if remote.is_url(path):  # relative to the manifest's folder on the store (or already a URL)
        folder = path.rsplit("/", 1)[0]
        resolved = {s: s if remote.is_url(s) else remote.join(folder, s) for s in names}
    else:
        base = path.resolve().parent
        resolved = {s: s if remote.is_url(s) else str((base / s).resolve()) for s in names}
    mapped = shards.map(resolved).astype(object)
    frame["shard_path"] = mapped.where(mapped.notna(), None)
    return frame
