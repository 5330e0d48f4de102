"""Manifest rows that workers record: the fields every row has, and the one error-row builder.

Every input lands in its shard's Parquet; a failure is a row with ``status="error"`` and an
``error_message``, keyed by the source's content (``make_key(..., error=True)``). Fields a row
leaves out are null in the manifest.
"""

from __future__ import annotations

from typing import Any

from ..manifest.schema import degradations_of, make_key
from .sources import Source, source_id


def base_row(label: str, origin: str, src: Source, variant: int, split: str, **fields: Any) -> dict[str, Any]:
    """The fields of every row of ``src``'s sample ``variant``, plus ``fields``. ``label`` is the
    sample's ``degradation`` (a type, an ``a+b`` mixture or ``unknown``); the ``degradations`` list
    column is derived from it here, and only here."""
    return {"degradation": label, "degradations": degradations_of(label), "origin": origin, "source": src.source,
            "source_sha256": src.sha256, "variant": variant, "split": split, "caption": None, **fields}


def error_row(task: str, origin: str, src: Source, variant: int, split: str, message: str,
              label: str | None = None, **fields: Any) -> dict[str, Any]:
    """The row of a sample of ``task`` that could not be made; ``label`` defaults to the task (a task
    whose label is drawn per sample, such as ``mix``, passes ``unknown``)."""
    key = make_key(task, source_id(src), variant, error=True)
    return base_row(task if label is None else label, origin, src, variant, split, key=key, status="error",
                    error_message=message, **fields)
