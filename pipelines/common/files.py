"""File output and input rules: every file the toolkit writes goes through here.

Output is written under a temporary name in the target's own folder (same file system), given
the mode a plain ``open`` would give it (``0o666`` less the umask, e.g. 0644; ``mkstemp`` alone
makes 0600, unreadable to teammates), fsynced, then renamed into place, so a killed run leaves
either the old file or the new one, never half of one. Temporary names start with a dot and end
in ``.tmp``; :mod:`pipelines.common.locks` removes those a dead run left behind.

Paths derived from data (a manifest's degradation and key, a member suffix) go through
:func:`safe_join`, which refuses any that would leave the output root. Inputs are opened with
:func:`open_regular`, which never blocks on a FIFO or device and refuses anything but a regular
file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .remote import filesystem, is_url, put_file, read_bounded

__all__ = [
    "NotRegularFileError",
    "UnsafePathError",
    "file_mode",
    "file_sha256",
    "open_input",
    "open_regular",
    "read_regular",
    "safe_join",
    "write_atomic",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


class UnsafePathError(ValueError):
    """A path built from data would leave its output root (absolute part, ``..``, symlink out)."""


class NotRegularFileError(OSError):
    """An input that is a FIFO, device, socket or folder instead of a regular file."""


@functools.cache
def file_mode() -> int:
    """The mode new files get: ``0o666 & ~umask``, the umask read once.

    Linux reports the umask in ``/proc/self/status`` without changing it; elsewhere it is read by
    setting and restoring it (a race only with threads that create files at that instant).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    ``path`` may be a URL (``s3://...``): the complete temporary file is then put as one object
    (stores have no rename; an object appears only once whole), and the URL is returned."""
    if is_url(path):
        fd, tmp = tempfile.mkstemp(prefix=".upload.", suffix=".tmp")
        os.close(fd)
        try:
            write(tmp)
            put_file(tmp, str(path))
        finally:
            os.unlink(tmp)
        return path  # type: ignore[return-value]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fchmod(fd, file_mode())
            os.fsync(fd)
        finally:
            os.close(fd)
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


def safe_join(root: str | os.PathLike, *parts: str) -> Path:
    """``root/part/...``, refusing any part that is empty, absolute, holds ``..`` or a NUL, or a
    result that resolves (through existing symlinks) outside ``root``.

    Raises :class:`UnsafePathError`. Use it for every output path built from data.
    """
    base = Path(root).resolve()
    for part in parts:
        pieces = str(part).replace("\\", "/").split("/")
        if not part or "\x00" in part or os.path.isabs(part) or part.startswith(("/", "\\")) \
                or any(p in ("", "..") for p in pieces):
            raise UnsafePathError(f"refusing output path part {part!r} under {base} (absolute, empty or '..')")
    target = base.joinpath(*parts)
    if not target.resolve().is_relative_to(base):
        raise UnsafePathError(f"refusing output path {target}: it resolves outside {base}")
    return target


def open_regular(path: str | os.PathLike) -> IO[bytes]:
    """Open a regular file for reading (binary). FIFOs, devices, sockets and folders raise
    :class:`NotRegularFileError` without blocking (the file is opened non-blocking, then checked)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"not a regular file ({_kind(mode)}): {os.fspath(path)}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_input(path: str | os.PathLike) -> IO[bytes]:
    """A binary reader: an object for URLs (through fsspec), :func:`open_regular` otherwise."""
    if is_url(path):
        fs, key = filesystem(str(path))
        return fs.open(key, "rb")
    return open_regular(path)


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`) or of an object (a URL; refused over
    :data:`~pipelines.common.remote.DEFAULT_MAX_OBJECT_BYTES`, never read past it)."""
    if is_url(path):
        return read_bounded(str(path))
    with open_regular(path) as handle:
        return handle.read()


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a regular file or an object (a URL), read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with open_input(path) as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
