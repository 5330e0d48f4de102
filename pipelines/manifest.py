"""The one manifest schema shared by every writer and reader, and the shard member names.

A manifest is a Parquet file with one row per attempted sample (failures included). Shard
paths are stored relative to the manifest's folder, so a dataset folder can be moved as a
whole. ``daclip`` reads manifests only through :func:`read_manifest`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = 1

SCHEMA = pa.schema(
    [
        ("key", pa.string()),  # dot-free, path-free, deterministic from (hq hash, task, variant)
        ("degradation", pa.string()),  # DA-CLIP's spelling, e.g. "rainy"
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


def empty_frame() -> pd.DataFrame:
    return SCHEMA.empty_table().to_pandas()


def to_table(frame: pd.DataFrame) -> pa.Table:
    """Conform a frame to :data:`SCHEMA` (missing columns become null, extra columns are dropped)."""
    frame = frame.copy()
    for name in COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return pa.Table.from_pandas(frame[list(COLUMNS)], schema=SCHEMA, preserve_index=False)


def write_parquet_atomic(table: pa.Table | pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write Parquet under a temporary name in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(table, pd.DataFrame):
        table = to_table(table)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest atomically, rows sorted by key for byte-identical output."""
    frame = frame.sort_values("key", kind="mergesort").reset_index(drop=True) if len(frame) else frame
    return write_parquet_atomic(frame, path)


def read_manifest(path: str | os.PathLike, status: str | None = "ok") -> pd.DataFrame:
    """Read a manifest; add ``shard_path`` (absolute). ``status=None`` keeps failed rows too."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"manifest not found: {path}")
    frame = pq.read_table(path).to_pandas()
    for name in COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    if status is not None:
        frame = frame[frame["status"] == status].reset_index(drop=True)
    base = path.resolve().parent
    frame["shard_path"] = [str((base / s).resolve()) if isinstance(s, str) and s else None for s in frame["shard"]]
    return frame
