"""Run one call in a child process with a wall-clock and a memory limit: work decided by someone else's
data (a replay of a manifest's params, say) can fail, but never hang the caller or take its memory.

:func:`run_bounded` starts a ``spawn`` child (a fresh interpreter: safe next to the caller's threads, which
``fork`` is not), sets ``RLIMIT_AS`` in it to its address space at start plus ``Limits.memory_bytes``, runs
``func(*args)`` and sends the result back through a pipe. The parent waits at most ``Limits.seconds`` and
kills the child (SIGKILL) when the time is up. Outcomes: the result; the child's ``ValueError`` raised again
with its text; or :class:`Stopped` with one line ("it ran past 60 s", "it needed more than 4 GiB", "it
failed: KeyError: 'steps'"). ``func`` and ``args`` must pickle (a module-level function, plain data), and
the caller's main module must be safe to import (the usual ``if __name__ == "__main__"`` guard): ``spawn``
imports it in the child.
Start-up costs a fresh interpreter plus the imports of ``func``'s module (about 0.2 s for
``degradations``).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

__all__ = ["GiB", "Limits", "Stopped", "format_bytes", "run_bounded"]

GiB = 1024**3
T = TypeVar("T")
_MEMORY_WORDS = ("out of memory", "insufficient memory", "failed to allocate", "cannot allocate")


@dataclass(frozen=True)
class Limits:
    """``seconds`` of wall-clock time; ``memory_bytes`` of address space beyond the child's at start
    (``None``: no memory limit)."""

    seconds: float = 60.0
    memory_bytes: int | None = 4 * GiB


class Stopped(RuntimeError):
    """The child ran out of time or memory, died, or failed with an error other than ValueError.
    ``str()`` is one line that reads after "... stopped: " (e.g. "it ran past 60 s")."""


def format_bytes(n: int) -> str:
    """``4 GiB``, ``1.5 GiB``, ``256 MiB``."""
    if n >= GiB:
        return f"{n / GiB:.3g} GiB"
    return f"{max(1, round(n / 1024**2))} MiB"


def run_bounded(func: Callable[..., T], *args: Any, limits: Limits = Limits()) -> T:
    """``func(*args)`` in a spawned child under ``limits`` (see the module docstring)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, limits.memory_bytes, func, args))
    child.start()
    sender.close()  # the child holds the only writer now: EOF here means it died
    # not a daemon, so pool workers may call this too; the finally below always reaps the child
    try:
        outcome = _receive(receiver, child, limits.seconds)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if outcome is None:
        raise Stopped(_death(child.exitcode, limits.memory_bytes))
    status, payload = outcome
    if status == "ok":
        return payload
    if status == "value":
        raise ValueError(payload)
    if status == "memory":
        if limits.memory_bytes is None:
            raise Stopped("it ran out of memory")
        raise Stopped(f"it needed more than {format_bytes(limits.memory_bytes)}")
    raise Stopped(f"it failed: {payload}")


def _receive(receiver: Connection, child: Any, seconds: float) -> tuple[str, Any] | None:
    """The child's ``(status, payload)``; None when it died without one; Stopped when time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not wait([receiver, child.sentinel], timeout=left):
            child.kill()
            raise Stopped(f"it ran past {seconds:g} s")
        if receiver.poll():
            try:
                return receiver.recv()
            except EOFError:
                return None
        if not child.is_alive():  # exited without a word (killed by a signal, os._exit)
            return receiver.recv() if receiver.poll() else None


def _death(exitcode: int | None, memory_bytes: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode} and no result"
    limit = f" (the memory limit is {format_bytes(memory_bytes)})" if memory_bytes else ""
    return f"it {how}{limit}"


def _child(sender: Connection, memory_bytes: int | None, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    if memory_bytes is not None:
        _limit_address_space(memory_bytes)
    try:
        outcome: tuple[str, Any] = ("ok", func(*args))
    except ValueError as exc:
        outcome = ("value", _one_line(str(exc)))
    except MemoryError:
        outcome = ("memory", None)
    except Exception as exc:  # reported to the parent as one line, never a traceback
        text = _one_line(f"{type(exc).__name__}: {exc}")
        outcome = ("memory", None) if any(w in text.lower() for w in _MEMORY_WORDS) else ("error", text)
    try:
        sender.send(outcome)
    except MemoryError:  # pickling a large result under the limit
        sender.send(("memory", None))
    finally:
        sender.close()


def _limit_address_space(extra: int) -> None:
    """RLIMIT_AS = the address space mapped now (interpreter, ``func``'s imports) + ``extra``."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + extra if hard == resource.RLIM_INFINITY else min(mapped + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _one_line(text: str, width: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
