"""Atomic file output: every file the toolkit writes goes through here.

Data is written under a temporary name in the target's own folder (same file system), then
renamed into place, so a killed run leaves either the old file or the new one, never half of
one. Readers therefore never see partial manifests, markers, images or checkpoints.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["write_atomic", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> Path:
    """Write bytes atomically (see the module docstring)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)

    return write_atomic(path, write)


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    return write_bytes_atomic(text.encode("utf-8"), path)


def write_json_atomic(obj: Any, path: str | os.PathLike, indent: int | None = 2) -> Path:
    """Pretty, key-sorted JSON plus a newline, written atomically."""
    return write_text_atomic(json.dumps(obj, sort_keys=True, indent=indent, ensure_ascii=False) + "\n", path)
