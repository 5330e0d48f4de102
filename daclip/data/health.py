"""What the data streams do with bad data: count it, say it, and stop a run that has nothing to learn from.

A manifest and its shards can disagree (a manifest merged before ``synthesize --overwrite``
rewrote the shards), shards can be corrupt or not tars at all, and members can be image bombs.
A resampled training stream that finds nothing usable would otherwise spin forever. So:

* :func:`check_shards` looks at the tar headers of (a bounded number of) the index's shards
  before training and fails at once when none of their manifest rows is there;
* :class:`StreamHealth` counts every sample a stream reads (in the manifest or not, usable, bad)
  and every shard it opens; it raises :class:`DataStreamError` when a full pass over the shards
  found no sample the manifest lists, when the first ``min_samples`` samples were all unreadable,
  or when bad samples exceed ``max_bad_fraction`` (after ``min_samples``);
* :func:`worker_message` recovers the one-line message of an error raised in a loader worker.
"""

from __future__ import annotations

import logging
import os
import tarfile
from dataclasses import dataclass, field
from typing import Any

from pipelines.common.tars import member_index

log = logging.getLogger(__name__)

DEFAULT_MAX_BAD_FRACTION = 0.1
MIN_SAMPLES = 100  # bad samples are judged as a fraction only after this many
MAX_CHECKED_SHARDS = 32
STALE_HINT = ("was the manifest merged before a `synthesize --overwrite` rewrote the shards? Merge the task "
              "manifests again")


class DataStreamError(ValueError):
    """The data cannot train anything: the message says what was found and what to do."""


def worker_message(error: BaseException) -> str:
    """A DataLoader worker's error re-raised in the main process carries the worker's traceback
    in its message; return the original one-line message."""
    text = str(error)
    if "Original Traceback" not in text:
        return text
    last = [line for line in text.strip().splitlines() if line.strip()][-1]
    prefix = f"{type(error).__name__}: "
    return last.split(prefix, 1)[1] if prefix in last else last


def check_shards(shards_to_keys: dict[str, list[str]], limit: int = MAX_CHECKED_SHARDS) -> None:
    """Fail fast when none of the manifest rows of (up to ``limit``, evenly spread) shards is in
    its shard. Only tar headers are read; an unreadable shard raises its own one-line error."""
    shards = sorted(shards_to_keys)
    step = max(1, len(shards) // limit)
    checked = shards[::step][:limit]
    rows = found = 0
    for shard in checked:
        try:
            names = member_index(shard)
        except (OSError, tarfile.TarError) as exn:
            raise DataStreamError(f"shard {shard} cannot be read: {exn}") from None
        keys = {name.split("/")[-1].split(".", 1)[0] for name in names}
        rows += len(shards_to_keys[shard])
        found += sum(key in keys for key in shards_to_keys[shard])
    if rows and not found:
        raise DataStreamError(f"0 of {rows} manifest rows found in their shards ({len(checked)} of {len(shards)} "
                              f"shard(s) checked): {STALE_HINT}")
    if found < rows:
        log.warning("%d of %d manifest rows are missing from their shards (%d shard(s) checked): they are skipped",
                    rows - found, rows, len(checked))


@dataclass
class StreamHealth:
    """Counters of one stream (one copy per loader worker); its :meth:`handler` is the streams'
    error policy (log, count, go on), with a stop when the data is mostly bad or unusable."""

    num_shards: int
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION
    min_samples: int = MIN_SAMPLES
    counts: dict[str, int] = field(
        default_factory=lambda: {"listed": 0, "unlisted": 0, "usable": 0, "bad": 0, "shards": 0})
    last_error: str = ""

    def count(self, what: str) -> None:
        self.counts[what] += 1

    def opened_shard(self) -> None:
        """Called as each shard is opened: after a full pass with no sample the manifest lists, stop."""
        self.counts["shards"] += 1
        if self.counts["shards"] > self.num_shards and not self.counts["listed"]:
            raise DataStreamError(self._nothing_usable())

    def handler(self, error: BaseException) -> bool:
        """Count and log a bad sample or shard; True (go on) unless too much is bad."""
        self.counts["bad"] += 1
        self.last_error = " ".join(str(error).split())[:300] or type(error).__name__
        bad, seen = self.counts["bad"], self.counts["bad"] + self.counts["usable"]
        if bad <= 3 or bad % 100 == 0:
            log.warning("skipped a bad sample (%d of %d so far, pid %d): %s", bad, seen, os.getpid(), self.last_error)
        if seen >= self.min_samples and not self.counts["usable"]:
            raise DataStreamError(f"none of the first {seen} samples read could be used; last: {self.last_error}")
        if seen >= self.min_samples and bad > self.max_bad_fraction * seen:
            raise DataStreamError(f"{bad} of {seen} samples could not be read (over --max-bad-fraction "
                                  f"{self.max_bad_fraction:g}); last: {self.last_error}")
        return True

    def _nothing_usable(self) -> str:
        c = self.counts
        text = (f"no usable sample in a full pass over {self.num_shards} shard(s): none of the {c['unlisted']} "
                f"samples read is in the manifest")
        if self.last_error:
            text += f" (last error: {self.last_error})"
        return text + (f"; {STALE_HINT}" if c["unlisted"] else "")


def stream_error(error: BaseException) -> Any:
    """A one-line :class:`DataStreamError` from a stream error raised here or in a worker."""
    return DataStreamError(worker_message(error))
