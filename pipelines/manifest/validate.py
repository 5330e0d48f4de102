"""The one manifest validator: every reader of a manifest (``verify``, ``stats``, ``merge``,
``export-csv``, ``caption``, the trainers, ``evaluate`` and the app) reads it through
:func:`pipelines.manifest.schema.read_manifest`, which calls :func:`validate_table` by default.

A manifest travels between people and machines, so nothing in it is trusted. It may *point*
anywhere to read (a shard path is only read, through the safe tar reader); it never decides
where anything is written. Checked, all vectorised (a 1.5 M-row manifest takes a second or two):

- the file is Parquet and has the columns :data:`REQUIRED`, each of the schema's type;
- ``status`` is ``ok`` or ``error``; ``key`` matches :data:`KEY_PATTERN` (no dots, no path parts);
- ``degradation`` is a label (:mod:`degradations.labels`): a known type or alias, a mixture of
  distinct types written ``a+b``, or ``unknown``; ``degradations`` (schema v2; a v1 manifest has
  no such column) lists exactly its parts;
- ``shard`` names a ``.tar`` file; ``members`` is a JSON list of member suffixes such as
  ``hq.png`` (no path separators, no ``..``, known extensions). ``ok`` rows must have both;
  ``error`` rows may have neither (the writer records a shard but no members);
- an ``ok`` image row (``origin`` ``synthesized`` or ``ingested``) lists an ``lq.*`` member; it may
  lack an ``hq.*`` member only when it is an ingested image without ground truth (``origin``
  ``ingested`` and ``hq_sha256`` null), and one with an ``hq.*`` member has an ``hq_sha256``;
- a manifest written by ``merge`` names its partner (train <-> val) and a merge id in its
  Parquet metadata: if the partner on disk carries another id, the two come from different
  merge runs (a run cut off between its two renames) and reading refuses.

Any problem raises one :class:`ManifestError` naming the file, the first bad row and the problem.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import degradations
from degradations.labels import MIXTURE_SEP, UNKNOWN, split_label

from ..common import remote

__all__ = ["KEY_PATTERN", "MERGE_ID", "MERGE_PARTNER", "REQUIRED", "ManifestError", "check_partner",
           "degradation_problem", "members_problem", "validate_table"]

REQUIRED = ("key", "degradation", "split", "shard", "status", "members")
KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}"
MEMBER_PATTERN = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.)?(png|webp|jpg|jpeg|npy|json|txt)")
STATUSES = ("ok", "error")
MERGE_ID = b"daclip.merge_id"
MERGE_PARTNER = b"daclip.merge_partner"
PAIR_SEP = "\x1f"


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file, the row and the problem."""


def degradation_problem(value: str) -> str | None:
    try:
        split_label(value)
    except ValueError:
        return (f"unknown degradation (known: {', '.join(degradations.NAMES)}, their aliases, a+b mixtures "
                f"of distinct types, or '{UNKNOWN}')")
    return None


def members_problem(value: str) -> str | None:
    try:
        members = json.loads(value)
    except ValueError:
        return "members is not valid JSON"
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        return "members is not a JSON list of strings"
    bad = [m for m in members if not MEMBER_PATTERN.fullmatch(m)]
    if bad:
        return f"member suffix {bad[0]!r} is not allowed (path parts, '..' or an unknown extension)"
    return None


def _shard_problem(value: str) -> str | None:
    if not value.endswith(".tar") or "\x00" in value or value.strip() != value:
        return "shard must name a .tar file"
    return None


def _type_ok(actual: pa.DataType, expected: pa.DataType) -> bool:
    if pa.types.is_null(actual):
        return True
    if pa.types.is_list(expected):
        return (pa.types.is_list(actual) or pa.types.is_large_list(actual)) and _type_ok(
            actual.value_type, expected.value_type)
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if pa.types.is_string(expected):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    return actual.equals(expected)


def _fail(path: str, table: pa.Table, rows: np.ndarray, problem: str) -> None:
    if len(rows) == 0:
        return
    first = int(rows[0])
    key = table.column("key")[first].as_py() if "key" in table.column_names else None
    more = f" (and {len(rows) - 1} more row(s))" if len(rows) > 1 else ""
    raise ManifestError(f"{path}: row {first} (key {key!r}): {problem}{more}")


def _where(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.flatnonzero(np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool))


def _strings(table: pa.Table, column: str) -> pa.ChunkedArray:
    """A string column as plain strings (dictionary-encoded and all-null columns included)."""
    return table.column(column).cast(pa.string())


def _check_values(path: str, table: pa.Table, column: str, problem_of: Callable[[str], str | None]) -> None:
    """Check each distinct non-null value once; report the first row holding a bad one."""
    values = _strings(table, column)
    problems = {v: p for v in pc.unique(values).to_pylist() if v is not None and (p := problem_of(v))}
    if not problems:
        return
    hits = _where(pc.is_in(values, value_set=pa.array(list(problems), type=pa.string())))
    if len(hits):
        value = values[int(hits[0])].as_py()
        _fail(path, table, hits, f"{column} {value!r:.120}: {problems[value]}")


def validate_table(table: pa.Table, path: str | os.PathLike, schema: pa.Schema) -> None:
    """Raise :class:`ManifestError` for the first problem of a manifest table (see the module docstring)."""
    label = str(path)
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise ManifestError(f"{label}: not a sample manifest: no column(s) {', '.join(missing)}")
    for field in schema:
        if field.name in table.column_names and not _type_ok(table.schema.field(field.name).type, field.type):
            actual = table.schema.field(field.name).type
            raise ManifestError(f"{label}: column {field.name!r} has type {actual}, expected {field.type}")
    status = _strings(table, "status")
    _fail(label, table, _where(pc.invert(pc.fill_null(pc.is_in(status, pa.array(STATUSES)), False))),
          f"status must be one of {', '.join(STATUSES)}")
    ok = pc.fill_null(pc.equal(status, "ok"), False)
    key_ok = pc.match_substring_regex(_strings(table, "key"), f"^{KEY_PATTERN}$")
    _fail(label, table, _where(pc.invert(pc.fill_null(key_ok, False))),
          "key must be letters, digits, '_' and '-' (no dots, no path parts)")
    _fail(label, table, _where(pc.is_null(table.column("degradation"))), "degradation is missing")
    for column in ("shard", "members"):
        _fail(label, table, _where(pc.and_(ok, pc.is_null(table.column(column)))), f"ok row without {column}")
    _check_values(label, table, "degradation", degradation_problem)
    if "degradations" in table.column_names:
        _check_parts(label, table)
    _check_values(label, table, "shard", _shard_problem)
    _check_values(label, table, "members", members_problem)
    _check_images(label, table, ok)


def _with_member(members: pa.ChunkedArray, stem: str) -> pa.ChunkedArray:
    """Per row: does ``members`` (already checked to be a JSON list) list a ``<stem>.*`` member?"""
    values = [v for v in pc.unique(members).to_pylist() if v is not None]
    having = [v for v in values if any(m.startswith(f"{stem}.") for m in json.loads(v))]
    return pc.is_in(members, value_set=pa.array(having, type=pa.string()))


def _check_images(label: str, table: pa.Table, ok: pa.ChunkedArray) -> None:
    """Image rows (origin synthesized or ingested) that are ok have an LQ member, and an HQ member
    with its hash, except an ingested image without ground truth: no HQ member, ``hq_sha256`` null."""
    if "origin" not in table.column_names or "hq_sha256" not in table.column_names:
        return
    origin = _strings(table, "origin")
    ingested = pc.fill_null(pc.equal(origin, "ingested"), False)
    images = pc.and_(ok, pc.fill_null(pc.is_in(origin, pa.array(["synthesized", "ingested"])), False))
    members = _strings(table, "members")
    has_hq, hq_hash = _with_member(members, "hq"), pc.is_valid(table.column("hq_sha256"))
    _fail(label, table, _where(pc.and_(images, pc.invert(_with_member(members, "lq")))), "ok row without an lq member")
    lq_only = pc.and_(ingested, pc.invert(hq_hash))
    _fail(label, table, _where(pc.and_(pc.and_(images, pc.invert(has_hq)), pc.invert(lq_only))),
          "ok row without an hq member (only an ingested image without ground truth, hq_sha256 null, may lack one)")
    _fail(label, table, _where(pc.and_(pc.and_(images, has_hq), pc.invert(hq_hash))),
          "row with an hq member but no hq_sha256")


def parts_problem(pair: str) -> str | None:
    """``pair`` is ``<degradation>\x1f<degradations joined by +>``: the list must be the label's parts."""
    label, _, joined = pair.partition(PAIR_SEP)
    try:
        expected = MIXTURE_SEP.join(split_label(label))
    except ValueError:
        return None  # reported as a bad degradation
    if joined != expected:
        return f"degradations {joined.split(MIXTURE_SEP) if joined else []} are not the parts of the label"
    return None


def _check_parts(path: str, table: pa.Table) -> None:
    """Every row's ``degradations`` list equals ``split_label(degradation)`` (each distinct pair once)."""
    parts = table.column("degradations")
    if pa.types.is_null(parts.type):
        _fail(path, table, np.arange(len(table)), "degradations is missing")
        return
    _fail(path, table, _where(pc.is_null(parts)), "degradations is missing")
    joined = pc.binary_join(parts.cast(pa.list_(pa.string())), MIXTURE_SEP)
    pairs = pc.binary_join_element_wise(_strings(table, "degradation"), pc.fill_null(joined, ""), PAIR_SEP)
    problems = {v: p for v in pc.unique(pairs).to_pylist() if v is not None and (p := parts_problem(v))}
    if problems:
        hits = _where(pc.is_in(pairs, value_set=pa.array(list(problems), type=pa.string())))
        _fail(path, table, hits, problems[pairs[int(hits[0])].as_py()])


def check_partner(path: str | os.PathLike, metadata: dict[bytes, bytes] | None,
                  read_metadata: Callable[[Path], dict[bytes, bytes] | None]) -> None:
    """Refuse a merged manifest whose partner (train <-> val) on disk comes from another merge run."""
    if not metadata or MERGE_PARTNER not in metadata:
        return
    name = metadata[MERGE_PARTNER].decode("utf-8", "replace")
    if remote.is_url(str(path)):
        partner = remote.join(str(path).rsplit("/", 1)[0], name)
        if not remote.exists(partner):
            return
    else:
        partner = Path(path).parent / name
        if not partner.is_file():
            return
    theirs = (read_metadata(partner) or {}).get(MERGE_ID)
    if theirs != metadata.get(MERGE_ID):
        raise ManifestError(
            f"{path}: its partner {name} comes from another merge run (merge was cut off between "
            "writing the two); rerun make-dataset merge"
        )
