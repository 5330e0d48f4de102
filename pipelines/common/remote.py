"""Object storage (``s3://``, ``gs://`` ... any fsspec URL) in the low I/O layer.

A path is *remote* when it is a URL with a scheme other than ``file``; everything else is a local
path and never goes through fsspec (local behaviour is unchanged). Remote objects are written in
one ``put`` of a complete local file (S3 shows an object only once its upload, single or
multipart, completes), so a reader never sees half of one. Credentials and endpoints come from
the usual fsspec / botocore settings (``AWS_*`` env vars, ``FSSPEC_S3_ENDPOINT_URL`` ...).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
from pathlib import Path
from typing import IO, Any

__all__ = ["as_path", "exists", "filesystem", "get_file", "is_url", "join", "listdir", "open_input",
           "put_file", "remove", "url_relpath"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_url(path: Any) -> bool:
    """True for ``scheme://...`` with a scheme other than ``file``."""
    if not isinstance(path, str):
        return False
    match = _SCHEME.match(path)
    return bool(match) and match.group(1).lower() != "file"


def as_path(path: str | os.PathLike) -> Path | str:
    """A URL stays a string (``Path`` would fold ``s3://`` into ``s3:/``); a local path becomes a Path."""
    return path if is_url(path) else Path(path)


def join(base: str, *parts: str) -> str:
    """``base/part/...`` for URLs, normalised (``..`` resolved inside the bucket)."""
    scheme, rest = base.split("://", 1)
    joined = posixpath.normpath(posixpath.join(rest, *parts))
    return f"{scheme}://{joined}"


def url_relpath(target: str, start: str) -> str:
    """``target`` relative to the folder ``start`` (both URLs on one scheme and bucket)."""
    t_scheme, t_rest = target.split("://", 1)
    s_scheme, s_rest = start.split("://", 1)
    if t_scheme != s_scheme or t_rest.split("/", 1)[0] != s_rest.split("/", 1)[0]:
        raise ValueError(f"{target} and {start} must be on the same store and bucket")
    return posixpath.relpath("/" + t_rest, "/" + s_rest)


def filesystem(url: str):
    """``(fs, path)`` for a URL (fsspec; ``s3://`` needs ``pip install -e '.[s3]'``)."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise ImportError(f"{url}: object storage needs an fsspec backend ({exc}); "
                          "for s3:// run pip install -e '.[s3]'") from None


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    return fs.exists(path)


def listdir(url: str) -> list[str]:
    """Names (not paths) of the objects directly under the folder ``url``; [] when there is none."""
    fs, path = filesystem(url)
    try:
        entries = fs.ls(path, detail=False, refresh=True)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(e.rstrip("/")) for e in entries)


def put_file(local: str | os.PathLike, url: str) -> None:
    """Upload a complete local file as one object (it appears only once whole)."""
    fs, path = filesystem(url)
    fs.put_file(os.fspath(local), path)
    fs.invalidate_cache(posixpath.dirname(path))


def get_file(url: str, local: str | os.PathLike) -> None:
    fs, path = filesystem(url)
    Path(local).parent.mkdir(parents=True, exist_ok=True)
    fs.get_file(path, os.fspath(local))


def remove(url: str) -> None:
    fs, path = filesystem(url)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)
    fs.invalidate_cache(posixpath.dirname(path))


def open_input(path: str | os.PathLike) -> IO[bytes]:
    """A binary reader: an object for URLs, :func:`pipelines.common.files.open_regular` otherwise."""
    if is_url(path):
        fs, key = filesystem(path)
        return fs.open(key, "rb")
    from .files import open_regular

    return open_regular(path)
