"""``make-dataset migrate``: rewrite manifests of an older schema as the current one, in place and atomically.

v1 -> v2 adds the ``degradations`` list column right after ``degradation`` (each label's types, from
:func:`degradations.labels.split_label`; ``[]`` for ``unknown``). Nothing else changes: rows, their
order, every other column and the Parquet metadata (a merged pair's merge id and partner name) are
kept, so a migrated train/val pair still belongs together. The run record ``<manifest>.json`` beside
it, if any, gets ``schema_version`` 2 and ``migrated_from``. A manifest already at v2 is left alone.
Readers do not need this (``read_manifest`` fills the column of a v1 manifest on the fly); it is for
tools that read the Parquet directly. Shards are not touched: an unfinished v1 run is rebuilt with
``synthesize --overwrite``, not resumed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pyarrow as pa

from ..common.cli import manifest_inputs
from ..common.files import read_regular, write_json_atomic
from ..common.locks import output_locks
from ..manifest.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    degradations_of,
    manifest_version,
    read_table,
    write_parquet_atomic,
)
from ..manifest.validate import validate_table


def migrate_table(table: pa.Table) -> pa.Table:
    """A v1 table with the ``degradations`` column added after ``degradation`` (metadata kept)."""
    labels = table.column("degradation").cast(pa.string()).to_pylist()
    cache: dict[str, list[str] | None] = {}
    parts = [cache.setdefault(label, degradations_of(label)) if label is not None else None for label in labels]
    index = table.column_names.index("degradation") + 1
    return table.add_column(index, SCHEMA.field("degradations"), pa.array(parts, type=pa.list_(pa.string())))


def migrate_manifest(path: str | os.PathLike) -> str:
    """Rewrite one manifest as the current schema; returns what happened, in a few words."""
    path = Path(path)
    table = read_table(path)
    version = manifest_version(table.column_names)
    if version >= SCHEMA_VERSION:
        return f"{path}: already schema v{version}"
    validate_table(table, path, SCHEMA)  # refuse to rewrite a manifest that is bad anyway
    with output_locks({path.parent: 0}):
        write_parquet_atomic(migrate_table(table), path)
        record = path.with_suffix(".json")
        if record.is_file():
            try:
                data = json.loads(read_regular(record).decode("utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("schema_version", 1) < SCHEMA_VERSION:
                data.update(schema_version=SCHEMA_VERSION, migrated_from=version)
                write_json_atomic(data, record)
    return f"{path}: schema v{version} -> v{SCHEMA_VERSION} ({table.num_rows} rows)"


@click.command("migrate")
@manifest_inputs(click.Path(exists=True, dir_okay=False), required=True,
                 help="Manifest to migrate (repeatable; also positional).")
def command(manifests: tuple[str, ...]) -> None:
    """Rewrite MANIFESTS written by an older make-dataset as the current schema (v1 -> v2: the
    degradations list column), atomically; manifests already current are left alone."""
    for path in manifests:
        click.echo(migrate_manifest(path))
