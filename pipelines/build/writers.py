"""Writer role: one shard's output files, all sharing one shape (``write`` / ``add_row`` / ``close``).

``TarShardWriter`` writes ``<stem>.tar`` (WebDataset members), ``<stem>.parquet`` (one row per
attempted sample, failures included) and ``<stem>_stats.json``. Tar and Parquet are written under
temporary names (``<stem>.tar.<pid>.tmp``) and renamed into place; the stats file is written
last and is the shard's completion marker. A new writer first removes the shard's stale stats and
temporary files. (Temporary names carry the pid, so a worker orphaned by a killed run can never
rename another process's half-written file; shard bytes are deterministic, so whichever complete
copy lands last is the same.) Tar headers carry a fixed mtime, owner and mode, and
members are written in sorted suffix order, so the same samples always give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..common.files import write_json_atomic
from ..manifest.schema import SCHEMA_VERSION, STATS_SUFFIX, dumps_json, member_name, rows_to_table

TAR_MTIME = 0  # fixed header fields: byte-reproducible tars
TAR_MODE = 0o444


@dataclass
class Sample:
    """One sample to store: ``members`` maps suffix (``hq.png``, ``json`` ...) to bytes."""

    key: str
    members: dict[str, bytes]
    row: dict[str, Any] = field(default_factory=dict)


def tar_member(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = TAR_MTIME
    info.mode = TAR_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def stats_path(folder: str | os.PathLike, stem: str) -> Path:
    return Path(folder) / f"{stem}{STATS_SUFFIX}"


def temp_files(folder: str | os.PathLike, stem: str) -> list[Path]:
    """Temporary files a (possibly killed) writer of this shard left behind."""
    folder = Path(folder)
    return sorted([*folder.glob(f"{stem}.tar.*tmp"), *folder.glob(f"{stem}.parquet.*tmp")])


class TarShardWriter:
    """Writes one shard: ``write(sample)`` for stored samples, ``add_row(row)`` for failures."""

    def __init__(self, folder: str | os.PathLike, stem: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stem = stem
        self.tar_path = self.folder / f"{stem}.tar"
        self.parquet_path = self.folder / f"{stem}.parquet"
        self._tar_tmp = self.folder / f"{stem}.tar.{os.getpid()}.tmp"
        self._parquet_tmp = self.folder / f"{stem}.parquet.{os.getpid()}.tmp"
        # a shard without its stats file is incomplete: start it again from scratch
        for stale in (stats_path(self.folder, stem), *temp_files(self.folder, stem)):
            stale.unlink(missing_ok=True)
        self._fh = _HashingFile(open(self._tar_tmp, "wb"))  # noqa: SIM115 - closed in close()
        self._tar = tarfile.open(fileobj=self._fh, mode="w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
        self.rows: list[dict[str, Any]] = []
        self._count = 0
        self._keys: set[str] = set()
        self._start = time.time()

    def has_key(self, key: str) -> bool:
        return key in self._keys

    def write(self, sample: Sample) -> None:
        if sample.key in self._keys:
            raise ValueError(f"duplicate key in shard {self.stem}: {sample.key}")
        for suffix in sorted(sample.members):
            data = sample.members[suffix]
            self._tar.addfile(tar_member(member_name(sample.key, suffix), data), io.BytesIO(data))
        self._keys.add(sample.key)
        row = dict(sample.row)
        row.update(key=sample.key, shard=self.tar_path.name, index_in_shard=self._count,
                   members=dumps_json(sorted(sample.members)))
        self.rows.append(row)
        self._count += 1

    def add_row(self, row: dict[str, Any]) -> None:
        row = dict(row)
        row.update(shard=self.tar_path.name, index_in_shard=None, members=None)
        self.rows.append(row)

    def close(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        self._tar.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        pq.write_table(rows_to_table(self.rows), self._parquet_tmp, compression="zstd")
        os.replace(self._tar_tmp, self.tar_path)
        os.replace(self._parquet_tmp, self.parquet_path)
        stats = shard_stats(self.rows, self.tar_path, self._fh.sha256.hexdigest(), self._start, extra)
        write_json_atomic(stats, stats_path(self.folder, self.stem))
        return stats

    def abort(self) -> None:
        """Drop the temporary files (used when a shard fails as a whole)."""
        try:
            self._tar.close()
            self._fh.close()
        finally:
            self._tar_tmp.unlink(missing_ok=True)
            self._parquet_tmp.unlink(missing_ok=True)


class _HashingFile:
    """A write-only file that hashes what passes through (the tar's sha256 without re-reading it)."""

    def __init__(self, fh):
        self._fh = fh
        self.sha256 = hashlib.sha256()

    def write(self, data) -> int:
        self.sha256.update(data)
        return self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    def flush(self) -> None:
        self._fh.flush()

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self._fh.close()


def shard_stats(rows: list[dict[str, Any]], tar_path: Path, tar_sha256: str, start: float,
                extra: dict[str, Any] | None) -> dict:
    """img2dataset-style stats (count, successes, failures, error histogram) plus the tar's size
    and sha256, which ``verify`` checks."""
    errors = Counter(r.get("error_message") or "" for r in rows if r.get("status") != "ok")
    end = time.time()
    stats = {
        "schema_version": SCHEMA_VERSION,
        "shard": tar_path.name,
        "count": len(rows),
        "successes": sum(1 for r in rows if r.get("status") == "ok"),
        "failed": sum(errors.values()),
        "status_dict": dict(sorted(errors.items())),
        "tar_bytes": tar_path.stat().st_size,
        "tar_sha256": tar_sha256,
        "start_time": start,
        "end_time": end,
        "duration": end - start,
    }
    stats.update(extra or {})
    return stats
