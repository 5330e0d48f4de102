"""Read an iterator ahead in a background thread (image decoding releases the GIL)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")


def prefetch(it: Iterator[T], depth: int = 4) -> Iterator[T]:
    """Run an iterator in a background thread, order kept; its exceptions re-raise in the consumer."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in it:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exn:  # handed to the consumer
            q.put(exn)
        q.put(done)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue so it can exit
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.1)
