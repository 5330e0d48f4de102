"""One run at a time on an output prefix of object storage (``s3://bucket/prefix``).

Object stores have no ``flock``; :func:`store_lock` instead creates the object
``<prefix>/.make-dataset.lock`` with a *conditional put* (``If-None-Match: *``: S3 creates it
only if no object has that name, atomically), holding the holder's host, pid, a random token and
the time. A second run finds the object and fails at once with
:class:`~pipelines.common.locks.OutputLocked` naming the holder. The holder rewrites the time
every ``heartbeat`` seconds and deletes the object on the way out (only if it still holds its
token).

A lock whose holder died is *stale* and is taken over (with a warning) when

- it names this host and a pid that no longer runs (a killed run on the same machine), or
- its time is older than ``stale_after`` (default 15 minutes, 15 missed heartbeats: a run on
  another machine that died; clocks of the hosts must agree to within minutes).

``--part i/N`` runs share a prefix by design: each creates ``.make-dataset.<part>.lock``, and
after creating its own lock checks that no whole run holds the prefix (and a whole run, that no
part does); S3's strong read-after-write consistency means that of two runs racing, at least one
sees the other and backs out.

Limits, said plainly: taking over a stale lock is a read, a delete and a conditional create, so
two runs taking over the *same* stale lock at the same instant could both delete; and fsspec
backends without an exclusive create (``mode="create"``) fall back to check-then-put. Both
windows are milliseconds wide and only open when a lock is stale or the store lacks conditional
writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from . import remote
from .locks import LOCK_NAME, OutputLocked

__all__ = ["HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS", "is_stale", "read_lock", "store_lock", "store_locks"]

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 60.0
STALE_AFTER_SECONDS = 15 * 60.0
_PART_LOCK = re.compile(r"\.make-dataset\.(.+)\.lock")


def _lock_url(prefix: str, part: str | None) -> str:
    return remote.join(prefix, LOCK_NAME if part is None else f".make-dataset.{part}.lock")


def read_lock(url: str) -> dict[str, Any] | None:
    """The lock object's fields, ``{}`` when unreadable, None when there is none."""
    try:
        data = remote.read_bounded(url, 1 << 16)
    except FileNotFoundError:
        return None
    try:
        fields = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return fields if isinstance(fields, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, as another user
        return True
    return True


def is_stale(fields: dict[str, Any], stale_after: float = STALE_AFTER_SECONDS, now: float | None = None) -> bool:
    """Whether a lock's holder is gone: a dead pid on this host, or no heartbeat for ``stale_after``."""
    now = time.time() if now is None else now
    pid = fields.get("pid")
    if fields.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid):
        return True
    refreshed = fields.get("refreshed")
    if not isinstance(refreshed, (int, float)):
        return True  # unreadable, or written by something else: nobody keeps it alive
    return now - refreshed > stale_after


def _describe(fields: dict[str, Any]) -> str:
    since = fields.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
    return f"host {fields.get('host', '?')}, pid {fields.get('pid', '?')}, since {when}"


class _Held:
    """A lock object this run created, kept alive by a heartbeat thread."""

    def __init__(self, url: str, heartbeat: float):
        self.url = url
        self.fields = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
                       "started": time.time()}
        self.heartbeat = heartbeat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def body(self) -> bytes:
        return json.dumps({**self.fields, "refreshed": time.time()}, sort_keys=True).encode("utf-8")

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"store-lock {self.url}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                current = read_lock(self.url)
                if not current or current.get("token") != self.fields["token"]:
                    log.warning("%s: the lock was taken by another run; stop this run", self.url)
                    return
                fs, path = remote.filesystem(self.url)
                fs.pipe_file(path, self.body())
            except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried; the run goes on
                log.warning("%s: lock heartbeat failed (%s)", self.url, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(Exception):
            current = read_lock(self.url)
            if current and current.get("token") == self.fields["token"]:
                remote.remove(self.url)


def _take(url: str, what: str, heartbeat: float, stale_after: float) -> _Held:
    held = _Held(url, heartbeat)
    for _ in range(3):
        if remote.create_exclusive(url, held.body()):
            return held
        current = read_lock(url)
        if current is None:
            continue  # released between our put and our read: try again
        if not is_stale(current, stale_after):
            raise OutputLocked(f"{what} is in use by another run ({_describe(current)}); wait for it to finish, "
                               f"use another prefix, or delete {url} if that run is dead")
        log.warning("%s: taking over the stale lock of a dead run (%s)", what, _describe(current))
        if read_lock(url) == current:
            remote.remove(url)
    raise OutputLocked(f"{what}: could not take the lock {url} (other runs keep taking it)")


def _others(prefix: str, own: str, part: str | None, stale_after: float) -> str | None:
    """A live lock on ``prefix`` that conflicts with ours: any part lock for a whole run, the whole
    lock (or the same part) for a part run."""
    for name in remote.listdir(prefix):
        url = remote.join(prefix, name)
        if url == own or not (name == LOCK_NAME or _PART_LOCK.fullmatch(name)):
            continue
        if part is not None and name != LOCK_NAME:
            continue  # other parts share the prefix
        fields = read_lock(url)
        if fields is not None and not is_stale(fields, stale_after):
            return _describe(fields)
    return None


@contextlib.contextmanager
def store_lock(prefix: str, part: str | None = None, heartbeat: float = HEARTBEAT_SECONDS,
               stale_after: float = STALE_AFTER_SECONDS) -> Iterator[str]:
    """Hold the output prefix ``prefix`` (a URL) for this run; see the module docstring.

    ``part`` (e.g. ``"part-0-of-4"``): share the prefix with the other parts of one run.
    """
    what = prefix if part is None else f"{prefix} ({part})"
    url = _lock_url(prefix, part)
    held = _take(url, what, heartbeat, stale_after)
    try:
        conflict = _others(prefix, url, part, stale_after)
        if conflict:
            raise OutputLocked(f"{what} is in use by another run ({conflict}); wait for it to finish "
                               "or use another prefix")
        held.start_heartbeat()
        yield url
    finally:
        held.release()


@contextlib.contextmanager
def store_locks(prefixes: Iterable[str], part: str | None = None, **kwargs: Any) -> Iterator[None]:
    """:func:`store_lock` on several prefixes (each once, in sorted order, so two runs never deadlock)."""
    with contextlib.ExitStack() as stack:
        for prefix in sorted({p.rstrip("/") for p in prefixes}):
            stack.enter_context(store_lock(prefix, part, **kwargs))
        yield
