"""The end-of-run summary of ``synthesize`` and ``ingest``: counts per task, split and status, the
most common errors, shards and speed, manifests."""

from __future__ import annotations

from collections import Counter

from .plan import BuildReport


def format_run_counts(
    counts: dict[tuple[str, str, str], int], errors: Counter, shards_written: int, shards_skipped: int,
    done: int, duration: float, unit: str = "samples",
) -> tuple[list[str], list[str]]:
    """The shared end-of-run summary of ``synthesize`` and ``ingest``.

    Returns ``(table_and_errors, shard_line)``: a task x split/status table with the most common
    errors, and the line on shards written/skipped and speed.
    """
    lines: list[str] = []
    table: dict[str, Counter] = {}
    for (task, split, status), n in sorted(counts.items()):
        table.setdefault(task, Counter())[f"{split}/{status}"] += n
    cols = sorted({c for counter in table.values() for c in counter})
    if table:
        width = max(len(t) for t in table) + 2
        lines.append("task".ljust(width) + "".join(c.rjust(14) for c in cols))
        lines += [t.ljust(width) + "".join(str(c.get(k, 0)).rjust(14) for k in cols) for t, c in table.items()]
    if errors:
        lines.append(f"errors ({sum(errors.values())} rows; status=error in the manifests):")
        lines += [f"  {n:6d}  {message[:150]}" for message, n in errors.most_common(8)]
    rate = done / duration if duration > 0 else 0.0
    shard_line = (f"shards: {shards_written} written, {shards_skipped} already complete (skipped); "
                  f"{done} {unit} in {duration:.1f} s ({rate:.1f} {unit}/s)")
    return lines, [shard_line]


def format_summary(report: BuildReport) -> str:
    """A one-screen summary: notes, counts per task/split/status, errors, shards and speed, manifests."""
    table, shard_line = format_run_counts(report.counts, report.errors, report.shards_written,
                                          report.shards_skipped, report.samples_done, report.duration,
                                          unit=report.unit)
    lines = [*report.notes, *table, *report.details, *shard_line]
    lines += [f"manifest: {path}" for path in report.manifests]
    return "\n".join(lines)
