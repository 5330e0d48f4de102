"""The app's data access: manifests opened through the one validator, rows addressed by row number.

Nothing a request carries becomes a path: the UI names a row (its position in the loaded frame)
and a member suffix the manifest itself lists; the shard path comes from the manifest, the member
name from :func:`pipelines.manifest.schema.member_name`, its offset from the shard's headers
(:func:`pipelines.common.tars.member_index`, read once per shard on first use and cached), and
the bytes from :func:`~pipelines.common.tars.read_member`. Images are decoded by the guarded
:func:`~pipelines.common.images.decode_rgb`. Opening a manifest reads no shard at all.
"""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.common.bounded import Limits, Stopped, run_bounded
from pipelines.common.images import DEFAULT_MAX_PIXELS, decode_rgb, encode_image
from pipelines.common.tars import member_index, read_member
from pipelines.manifest.schema import member_name, read_manifest, sha256_hex

from .params import MAIN_PARAMS, ParamTable, parse_conditions, sparkline

__all__ = ["Dataset", "Filter", "ReplayResult", "RowView", "find_manifests", "open_dataset"]

FACETS = ("degradation", "severity", "split", "status", "origin")
TABLE_COLUMNS = ("row", "key", "degradation", "severity", "split", "status", "origin", "width", "height",
                 "caption", "error_message")
IMAGE_MEMBERS = ("lq", "hq")
REPLAY_BYTES_PER_HQ_BYTE = 24  # the memory limit grows with the image: float copies of a large HQ


def find_manifests(sources: list[str | os.PathLike]) -> list[Path]:
    """Manifest files from files and folders (a folder: its ``*.parquet``, sorted)."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        found.extend(sorted(path.glob("*.parquet")) if path.is_dir() else [path])
    return found


@dataclass(frozen=True)
class Filter:
    """Empty tuples keep everything; ``caption`` is a case-insensitive substring."""

    degradation: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    split: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    origin: tuple[str, ...] = ()
    caption: str = ""
    params: str = ""  # e.g. "quality < 20, t_far < 0.3" (see daclip.app.params)


@dataclass(frozen=True)
class RowView:
    """What the page shows of one row: images by name (``lq``, ``hq``, side maps) and the text."""

    row: int
    key: str
    images: dict[str, np.ndarray]
    caption: str | None
    params: Any
    hashes: dict[str, str | None]
    error: str | None
    problems: list[str]


@dataclass(frozen=True)
class ReplayResult:
    matches: bool
    message: str
    lq: np.ndarray | None = None


@dataclass
class Dataset:
    """The rows of one or more manifests (``manifest`` column: which file) and per-shard indexes."""

    frame: pd.DataFrame
    errors: list[str] = field(default_factory=list)  # one line per manifest that could not be opened
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    replay_limits: Limits = field(default_factory=Limits)  # the memory grows with the HQ (see replay)
    _indexes: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict, repr=False)
    _params: ParamTable | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- filtering ---------------------------------------------------------------------------
    def choices(self, column: str) -> list[str]:
        values = self.frame[column].dropna().unique() if column in self.frame else []
        return sorted(str(v) for v in values)

    def select(self, spec: Filter) -> np.ndarray:
        """Row numbers (positions in :attr:`frame`) that pass ``spec``."""
        mask = np.ones(len(self.frame), dtype=bool)
        for column in FACETS:
            wanted = getattr(spec, column)
            if wanted:
                mask &= self.frame[column].isin(list(wanted)).to_numpy()
        if spec.caption.strip():
            captions = self.frame["caption"].fillna("").astype(str)
            mask &= captions.str.contains(spec.caption.strip(), case=False, regex=False).to_numpy()
        rows = np.flatnonzero(mask)
        conditions = parse_conditions(spec.params)  # a bad condition raises ValueError with the fix
        return self.param_table().keep(rows, conditions) if conditions else rows

    def param_table(self) -> ParamTable:
        if self._params is None:
            self._params = ParamTable(self.frame["params"].reset_index(drop=True))
        return self._params

    def histograms(self, rows: np.ndarray, limit: int = 5000) -> dict[str, str]:
        """Per degradation of the selected rows, a text histogram of its main parameter (the
        first ``limit`` rows of each type, to stay fast on large selections)."""
        table, out = self.param_table(), {}
        part = self.frame["degradation"].iloc[rows]
        for name in sorted(part.dropna().unique()):
            param = MAIN_PARAMS.get(str(name).split("+")[0])
            if param is not None:
                chosen = rows[(part == name).to_numpy()][:limit]
                out[f"{name} {param}"] = sparkline(table.values(chosen, param))
        return out

    def page(self, rows: np.ndarray, page: int, size: int) -> pd.DataFrame:
        """One page of the table for the selected ``rows`` (``page`` from 0)."""
        chosen = rows[page * size:(page + 1) * size]
        table = self.frame.iloc[chosen].reindex(columns=[c for c in TABLE_COLUMNS if c != "row"])
        table.insert(0, "row", chosen)
        return table.astype(object).where(table.notna(), "").reset_index(drop=True)

    def summary(self, rows: np.ndarray) -> dict[str, dict[str, int]]:
        """Counts per degradation, split, status and severity of the selected rows."""
        part = self.frame.iloc[rows]
        return {column: {str(k): int(v) for k, v in part[column].value_counts(dropna=False).sort_index().items()}
                for column in ("degradation", "split", "status", "severity")}

    # --- members -----------------------------------------------------------------------------
    def _index(self, shard: str) -> dict[str, tuple[int, int]]:
        with self._lock:
            cached = self._indexes.get(shard)
        if cached is None:
            cached = member_index(shard)
            with self._lock:
                self._indexes[shard] = cached
        return cached

    def members(self, row: int) -> list[str]:
        """The member suffixes the manifest lists for ``row`` (e.g. ``["hq.png", "lq.png", "json"]``)."""
        raw = self._row(row).get("members")
        try:
            listed = json.loads(raw) if isinstance(raw, str) else []
        except json.JSONDecodeError:
            return []
        return [s for s in listed if isinstance(s, str)]

    def member(self, row: int, suffix: str) -> bytes:
        """The bytes of member ``KEY.suffix`` of ``row``, read by offset; only suffixes the row lists."""
        record = self._row(row)
        if suffix not in self.members(row):
            raise KeyError(f"row {row} has no member {suffix!r}")
        shard = record.get("shard_path")
        if not isinstance(shard, str):
            raise KeyError(f"row {row} has no shard")
        name = member_name(record["key"], suffix)
        located = self._index(shard).get(name)
        if located is None:
            raise KeyError(f"{name} is not in {Path(shard).name} (stale manifest?)")
        return read_member(shard, *located)

    def image(self, row: int, suffix: str) -> np.ndarray:
        data = self.member(row, suffix)
        if suffix.endswith(".npy"):
            return _array_image(np.load(io.BytesIO(data), allow_pickle=False))
        return decode_rgb(data, self.max_pixels)

    def _row(self, row: int) -> dict[str, Any]:
        if not 0 <= int(row) < len(self.frame):
            raise IndexError(f"no row {row} (the dataset has {len(self.frame)} rows)")
        return self.frame.iloc[int(row)].to_dict()

    def view(self, row: int) -> RowView:
        """Everything the page shows for ``row``; unreadable members become ``problems`` lines."""
        record = self._row(row)
        images: dict[str, np.ndarray] = {}
        problems: list[str] = []
        for suffix in self.members(row):
            if suffix == "json":
                continue
            try:
                images[suffix.partition(".")[0]] = self.image(row, suffix)
            except Exception as exc:  # a corrupt or missing member is shown, never fatal
                problems.append(f"{suffix}: {exc}")
        params = record.get("params")
        return RowView(
            row=int(row), key=str(record["key"]), images=images, caption=_text(record.get("caption")),
            params=_loads(params), error=_text(record.get("error_message")), problems=problems,
            hashes={name: _text(record.get(name)) for name in ("hq_sha256", "lq_sha256", "source_sha256")},
        )

    def replay(self, row: int) -> ReplayResult:
        """Re-run the recorded params on the HQ member; compare with the LQ member's bytes and pixels.

        The params may come from someone else: they are checked first
        (:func:`degradations.replayable.check_replayable`), then replayed in a child process under
        :attr:`replay_limits` (the memory limit at least ``REPLAY_BYTES_PER_HQ_BYTE`` times the HQ's
        size); a refusal or a stop is the message of a non-matching result, one line.
        """
        from degradations.replayable import parse_replayable, replay_lq

        record = self._row(row)
        text = record.get("params")
        if not isinstance(text, str) or text.strip() in ("", "null"):
            return ReplayResult(False, "nothing to replay: this row records no params (ingested or error row)")
        try:
            params = parse_replayable(text)
        except ValueError as exc:
            return ReplayResult(False, f"replay refused: {exc}")
        suffixes = {s.partition(".")[0]: s for s in self.members(row)}
        if "hq" not in suffixes or "lq" not in suffixes:
            return ReplayResult(False, "nothing to replay: the row has no HQ/LQ members")
        hq = self.image(row, suffixes["hq"])
        lq_bytes = self.member(row, suffixes["lq"])
        limits = self.replay_limits
        if limits.memory_bytes is not None:
            limits = replace(limits, memory_bytes=max(limits.memory_bytes, REPLAY_BYTES_PER_HQ_BYTE * hq.nbytes))
        try:
            lq = run_bounded(replay_lq, hq, params, limits=limits)
        except ValueError as exc:
            return ReplayResult(False, f"replay refused: {exc}")
        except Stopped as exc:
            return ReplayResult(False, f"replay stopped: {exc}")
        encoded = encode_image(lq, suffixes["lq"].rpartition(".")[2])
        if sha256_hex(encoded) == sha256_hex(lq_bytes):
            return ReplayResult(True, "replay matches: the re-encoded LQ is byte-identical to the shard member", lq)
        same = np.array_equal(lq, decode_rgb(lq_bytes, self.max_pixels))
        note = "pixels equal, encoded bytes differ" if same else "pixels differ"
        return ReplayResult(same, f"replay: {note}", lq)


def open_dataset(sources: list[str | os.PathLike], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Dataset:
    """Every manifest of ``sources`` (files or folders), all rows (ok and error). A manifest that
    fails validation is left out and its one-line message kept in :attr:`Dataset.errors`."""
    from pipelines.manifest.validate import ManifestError

    frames, errors = [], []
    for path in find_manifests(sources):
        try:
            frame = read_manifest(path, status=None)
        except (ManifestError, OSError) as exc:
            errors.append(str(exc) if isinstance(exc, ManifestError) else f"{path}: {exc}")
            continue
        frame["manifest"] = path.name
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if frames else _empty()
    return Dataset(frame=frame, errors=errors, max_pixels=max_pixels)


def _empty() -> pd.DataFrame:
    from pipelines.manifest.schema import COLUMNS

    return pd.DataFrame({name: pd.Series(dtype=object) for name in (*COLUMNS, "shard_path", "manifest")})


def _array_image(arr: np.ndarray) -> np.ndarray:
    """A side map stored as an array (e.g. a blur kernel) as a viewable 8-bit image."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"cannot show an array of shape {arr.shape}")
    span = arr.max() - arr.min()
    scaled = (arr - arr.min()) / span if span > 0 else np.zeros_like(arr)
    gray = (scaled * 255).round().astype(np.uint8)
    scale = max(1, 128 // max(gray.shape))
    return np.repeat(np.repeat(gray, scale, 0), scale, 1)[..., None].repeat(3, axis=2)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _loads(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):  # a crafted, deeply nested value is shown as text
        return value
