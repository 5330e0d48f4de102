"""The progress callback every distributor passes its worker: called with the samples just done."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int], None]  # called with the number of samples just done


def ignore_progress(n: int) -> None:
    """The progress callback when nobody listens (picklable, unlike a lambda)."""
