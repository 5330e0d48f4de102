"""Safe reading of WebDataset tar shards from anyone: every shard reader goes through here.

Safe by construction: a member's header is checked before a byte of its data is read. Only
regular members are read (directory entries are skipped); sparse members (whose stored size
says nothing of what they expand to), links, devices, FIFOs, names that are absolute or hold
``..`` and members larger than ``max_member_bytes`` raise :class:`UnsafeTarError`, a
``tarfile.TarError``. Shards are plain tars (no compression) opened with
:func:`~pipelines.common.files.open_regular`, so a FIFO or device named ``x.tar`` never blocks.

- :func:`iter_members`: ``(name, bytes)`` per member, streamed (a path or any binary file object);
- :func:`iter_samples` / :class:`TarSamples`: webdataset-style sample dicts (``__key__``,
  ``__url__``, one entry per suffix), a drop-in for ``wds.tarfile_to_samples(handler=...)``;
- :func:`iter_digests`: sha256 and size of each member, hashed in chunks (never whole in memory);
- :func:`member_index` / :func:`read_member`: headers only, then one member by offset.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from .files import open_input

__all__ = [
    "DEFAULT_MAX_MEMBER_BYTES",
    "MemberDigest",
    "TarSamples",
    "UnsafeTarError",
    "check_member",
    "iter_digests",
    "iter_members",
    "iter_samples",
    "member_index",
    "read_member",
    "safe_member_name",
]

DEFAULT_MAX_MEMBER_BYTES = 256 * 2**20
CHUNK = 1 << 20

Source = str | os.PathLike | IO[bytes]


class UnsafeTarError(tarfile.TarError):
    """A member that is not read: not a regular file, a dangerous name, or too large."""


def safe_member_name(name: str) -> bool:
    """Relative, no ``..`` part, no backslash or NUL."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    return ".." not in name.split("/")


def check_member(info: tarfile.TarInfo, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> bool:
    """True for a member to read, False for a directory entry to skip; raises :class:`UnsafeTarError`."""
    if info.isdir():
        return False
    if info.issparse():
        raise UnsafeTarError(f"member {info.name!r} is a sparse file ({info.size} bytes when expanded)")
    if not info.isreg():
        kind = "a link" if info.islnk() or info.issym() else "a device, FIFO or other special file"
        raise UnsafeTarError(f"member {info.name!r} is {kind}, not a regular file")
    if not safe_member_name(info.name):
        raise UnsafeTarError(f"member name {info.name!r} is absolute or holds '..'")
    if info.size > max_member_bytes:
        raise UnsafeTarError(f"member {info.name!r} has {info.size} bytes, over the limit of {max_member_bytes}")
    return True


def _open(source: Source, mode: str) -> tuple[tarfile.TarFile, IO[bytes] | None]:
    if isinstance(source, (str, os.PathLike)):
        handle = open_input(source)  # a local regular file, or an object for a URL
        try:
            return tarfile.open(fileobj=handle, mode=mode), handle
        except BaseException:
            handle.close()
            raise
    return tarfile.open(fileobj=source, mode=mode), None


def _members(source: Source, max_member_bytes: int, mode: str = "r|") -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Checked members (see :func:`check_member`); tar errors name the shard."""
    label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "tar stream")
    try:
        tar, handle = _open(source, mode)
        try:
            for info in tar:
                if check_member(info, max_member_bytes):
                    yield tar, info
        finally:
            tar.close()
            if handle is not None:
                handle.close()
    except tarfile.TarError as exc:
        raise type(exc)(f"{label}: {exc}") from None


def _read(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(info)
    data = handle.read(info.size) if handle is not None else b""
    if len(data) != info.size:
        raise tarfile.ReadError(f"member {info.name!r} is cut short ({len(data)} of {info.size} bytes)")
    return data


def iter_members(
    source: Source,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    select: Callable[[str], bool] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """``(name, data)`` for each regular member in tar order (only those ``select`` accepts)."""
    for tar, info in _members(source, max_member_bytes):
        if select is None or select(info.name):
            yield info.name, _read(tar, info)


def _split(name: str) -> tuple[str, str]:
    """webdataset's key rule: the key is everything before the first dot of the basename."""
    folder, _, base = name.rpartition("/")
    stem, _, suffix = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), suffix


def iter_samples(source: Source, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                 url: str | None = None) -> Iterator[dict[str, Any]]:
    """Consecutive members grouped by key: ``{"__key__", "__url__", suffix: bytes, ...}``."""
    url = url if url is not None else (os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
    sample: dict[str, Any] | None = None
    for name, data in iter_members(source, max_member_bytes):
        key, suffix = _split(name)
        if sample is None or sample["__key__"] != key or suffix in sample:
            if sample is not None:
                yield sample
            sample = {"__key__": key, "__url__": url}
        sample[suffix] = data
    if sample is not None:
        yield sample


@dataclass(frozen=True)
class TarSamples:
    """Pipeline stage: shard dicts (``{"url": path}``, as webdataset's shard lists yield) or paths
    -> samples of :func:`iter_samples`. Errors go to ``handler(exn)`` (True: go on to the next
    shard; False: raise), like webdataset's handlers. A picklable class, for DataLoader workers."""

    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    handler: Callable[[BaseException], bool] | None = None

    def __call__(self, shards: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for shard in shards:
            url = shard["url"] if isinstance(shard, dict) else shard
            try:
                yield from iter_samples(url, self.max_member_bytes)
            except (OSError, EOFError, tarfile.TarError) as exn:
                if self.handler is None or not self.handler(exn):
                    raise


@dataclass(frozen=True)
class MemberDigest:
    name: str
    size: int
    sha256: str
    head: bytes  # the first ``head_bytes`` of the data (all of it for small members)


def iter_digests(source: Source, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                 head_bytes: int = CHUNK) -> Iterator[MemberDigest]:
    """Size, sha256 and first bytes of each regular member, read in chunks."""
    for tar, info in _members(source, max_member_bytes):
        handle = tar.extractfile(info)
        digest, head, left = hashlib.sha256(), b"", info.size
        while left > 0 and handle is not None:
            block = handle.read(min(CHUNK, left))
            if not block:
                break
            digest.update(block)
            if len(head) < head_bytes:
                head += block[: head_bytes - len(head)]
            left -= len(block)
        if left:
            raise tarfile.ReadError(f"member {info.name!r} is cut short ({info.size - left} of {info.size} bytes)")
        yield MemberDigest(info.name, info.size, digest.hexdigest(), head)


def member_index(path: str | os.PathLike, names: Container[str] | None = None,
                 max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> dict[str, tuple[int, int]]:
    """``name -> (data offset, size)`` from the headers alone (data is skipped, every header checked)."""
    return {info.name: (info.offset_data, info.size) for _, info in _members(path, max_member_bytes, "r:")
            if names is None or info.name in names}


def read_member(path: str | os.PathLike, offset: int, size: int,
                max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> bytes:
    """The ``size`` bytes at ``offset`` (from :func:`member_index`), with one seek."""
    if size > max_member_bytes:
        raise UnsafeTarError(f"member of {size} bytes is over the limit of {max_member_bytes}")
    with open_input(path) as handle:
        handle.seek(offset)
        data = handle.read(size)
    if len(data) != size:
        raise tarfile.ReadError(f"{os.fspath(path)}: member at {offset} is cut short ({len(data)} of {size} bytes)")
    return data
