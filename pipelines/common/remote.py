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
from typing import Any

__all__ = ["DEFAULT_MAX_OBJECT_BYTES", "ObjectTooLarge", "as_path", "basename", "child", "create_exclusive",
           "exists", "filesystem", "find_files", "get_file", "glob", "is_folder", "is_url", "join", "listdir",
           "path_exists", "put_file", "read_bounded", "remove", "remove_path", "subfolders",
           "url_relpath"]

DEFAULT_MAX_OBJECT_BYTES = 1 << 30  # an input object larger than this is refused, never read into memory


class ObjectTooLarge(OSError):
    """An input object over the size limit (read into memory only up to the limit)."""

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


def basename(path: str | os.PathLike) -> str:
    """The last name of a local path or a URL."""
    return posixpath.basename(path.rstrip("/")) if is_url(path) else Path(path).name


def child(folder: str | os.PathLike, *names: str) -> Path | str:
    """``folder/name/...`` for a local folder (a Path) or a URL (a string)."""
    return join(folder, *names) if is_url(folder) else Path(folder).joinpath(*names)


def path_exists(path: str | os.PathLike) -> bool:
    """``exists`` for a URL, ``Path.exists`` for a local path."""
    return exists(path) if is_url(path) else Path(path).exists()


def remove_path(path: str | os.PathLike) -> None:
    """Delete one object or local file; a missing one is fine."""
    if is_url(path):
        remove(path)
    else:
        Path(path).unlink(missing_ok=True)


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


def is_folder(url: str) -> bool:
    """True when ``url`` is a prefix holding objects (a "folder" of the store)."""
    fs, path = filesystem(url)
    try:
        return bool(fs.isdir(path))
    except FileNotFoundError:
        return False


def subfolders(url: str) -> list[str]:
    """Names of the "folders" (common prefixes) directly under ``url``, sorted."""
    fs, path = filesystem(url)
    try:
        entries = fs.ls(path, detail=True, refresh=True)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "directory")


def find_files(url: str) -> list[tuple[str, str]]:
    """``(path relative to url, url of the object)`` of every object under the prefix ``url``,
    recursively, sorted by relative path (folder markers, keys ending in ``/``, are left out)."""
    fs, path = filesystem(url)
    scheme = url.split("://", 1)[0]
    base = path.rstrip("/")
    fs.invalidate_cache(base)
    out = []
    for key, info in fs.find(base, withdirs=False, detail=True).items():
        if info.get("type") != "file" or key.endswith("/") or not key.startswith(base + "/"):
            continue
        out.append((key[len(base) + 1 :], f"{scheme}://{key}"))
    return sorted(out)


def glob(pattern: str) -> list[str]:
    """URLs of the objects matching a glob URL (``s3://bucket/photos/**/*.jpg``), sorted."""
    fs, path = filesystem(pattern)
    scheme = pattern.split("://", 1)[0]
    matches = fs.glob(path, detail=True)
    return sorted(f"{scheme}://{key}" for key, info in matches.items() if info.get("type") == "file")


def read_bounded(url: str, limit: int = DEFAULT_MAX_OBJECT_BYTES) -> bytes:
    """An object's bytes; :class:`ObjectTooLarge` when it holds more than ``limit`` bytes (the size
    is checked first, and at most ``limit + 1`` bytes are ever read, should it grow meanwhile)."""
    fs, path = filesystem(url)
    size = fs.size(path)
    if size is not None and size > limit:
        raise ObjectTooLarge(f"{url}: {size} bytes is over the input limit of {limit} bytes")
    with fs.open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ObjectTooLarge(f"{url}: more than the input limit of {limit} bytes")
    return data


def create_exclusive(url: str, data: bytes) -> bool:
    """Create the object ``url`` holding ``data`` only if no object has that name (a conditional
    put, ``If-None-Match: *``). Returns False when it exists. Stores whose fsspec backend has no
    exclusive create get a check-then-put (a race window; see :mod:`pipelines.common.store_locks`)."""
    fs, path = filesystem(url)
    try:
        fs.pipe_file(path, data, mode="create")
    except FileExistsError:
        return False
    except (TypeError, NotImplementedError):  # the backend has no mode="create"
        if fs.exists(path):
            return False
        fs.pipe_file(path, data)
    finally:
        fs.invalidate_cache(posixpath.dirname(path))
    return True


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
