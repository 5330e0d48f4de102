"""One lock per output folder, and the removal of temporary files that dead runs left behind.

:func:`output_lock` takes a non-blocking ``fcntl.flock`` on ``<folder>/.make-dataset.lock`` that
holds the holder's pid; a second run on the same folder fails at once with
:class:`OutputLocked` ("... in use by another run (pid 1234) ..."). The kernel drops the lock
when a process dies, so a killed run never leaves the folder locked.

Runs that share a folder by design (``--part i/N`` of one build, which write disjoint files)
pass ``part``: they hold the folder lock *shared* plus an exclusive lock of their own part, so
parts run side by side while a whole run, or the same part twice, is refused.

A whole (exclusive) run then removes stale temporary files (:func:`remove_stale_temps`): the
atomic writers' ``.<name>.<random>.tmp`` and the shard writers' ``<stem>.tar.<pid>.tmp``. The
lock file is removed on release when no other run holds it (each taker checks that the file it
locked is still the one on disk, so removing it is safe).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["LOCK_NAME", "OutputLocked", "output_lock", "output_locks", "remove_stale_temps"]

LOCK_NAME = ".make-dataset.lock"
_STALE = re.compile(r"\..+\.tmp|.+\.(?:tar|parquet)\.\d+\.tmp")


class OutputLocked(OSError):
    """Another live run holds the output folder."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


def _take(path: Path, shared: bool, what: str) -> int:
    """Lock ``path`` (created if missing); returns the open fd. Retries if the file was replaced."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputLocked(f"{what} is in use by another run (pid {holder}); wait for it to finish "
                               "or use another output folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.pwrite(fd, f"{os.getpid():>10}\n".encode("ascii"), 0)
            os.ftruncate(fd, 11)
            return fd
        os.close(fd)  # the previous holder removed the file between our open and our lock


def _release(path: Path, fd: int) -> None:
    """Remove the lock file if no one else holds it, then unlock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except OSError:
        pass  # another part still holds it: leave the file
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, part: str | None = None, clean_depth: int | None = 0) -> Iterator[Path]:
    """Hold ``folder`` (created if missing) for this run; see the module docstring.

    ``part`` (e.g. ``"part-0-of-4"``): share the folder with the other parts of one run.
    ``clean_depth``: remove stale temporary files in the folder and this many levels below it
    (whole runs only; ``None`` never).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    held: list[tuple[Path, int]] = []
    try:
        main = folder / LOCK_NAME
        held.append((main, _take(main, shared=part is not None, what=str(folder))))
        if part is not None:
            own = folder / f".make-dataset.{part}.lock"
            held.append((own, _take(own, shared=False, what=f"{folder} ({part})")))
        elif clean_depth is not None:
            remove_stale_temps(folder, clean_depth)
        yield folder
    finally:
        for path, fd in reversed(held):
            _release(path, fd)


@contextlib.contextmanager
def output_locks(folders: Mapping[str | os.PathLike, int | None], part: str | None = None) -> Iterator[None]:
    """:func:`output_lock` on several folders at once: ``{folder: clean_depth}``; a folder named
    twice (also through another spelling) is locked once, with the deeper clean-up."""
    seen: dict[str, tuple[Path, int | None]] = {}
    for folder, depth in folders.items():
        Path(folder).mkdir(parents=True, exist_ok=True)
        key = str(Path(folder).resolve())
        old = seen.get(key, (Path(folder), None))[1]
        seen[key] = (Path(folder), depth if old is None else max(old, depth if depth is not None else old))
    with contextlib.ExitStack() as stack:
        for key in sorted(seen):
            folder, depth = seen[key]
            stack.enter_context(output_lock(folder, part=part, clean_depth=depth))
        yield


def remove_stale_temps(folder: str | os.PathLike, depth: int = 0) -> list[Path]:
    """Delete temporary files of dead runs in ``folder`` (and ``depth`` levels of subfolders).

    Call it only while holding the folder exclusively. Returns what was removed.
    """
    removed: list[Path] = []
    folders = [Path(folder)]
    for _ in range(depth + 1):
        below: list[Path] = []
        for current in folders:
            try:
                entries = list(os.scandir(current))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    below.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and _STALE.fullmatch(entry.name):
                    Path(entry.path).unlink(missing_ok=True)
                    removed.append(Path(entry.path))
        folders = below
    return removed
