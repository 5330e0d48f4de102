"""Synthesize's reader step after hashing: drop exact duplicates, sort by content hash, and cut the
unique sources into shard groups (:class:`SourceGroups`), so shard ids are fixed before any work."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..build.sources import Source, source_id


@dataclass(frozen=True)
class Duplicate:
    source: str
    duplicate_of: str
    sha256: str


@dataclass(frozen=True)
class SourceGroups:
    """Unique sources in processing order, cut into shard groups, plus the duplicates dropped."""

    groups: tuple[tuple[Source, ...], ...]
    duplicates: tuple[Duplicate, ...]
    n_listed: int

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(s for group in self.groups for s in group)


def dedup(sources: Iterable[Source]) -> tuple[list[Source], list[Duplicate]]:
    """Keep one source per sha256 (the smallest ``source`` string); report the others."""
    by_hash: dict[str, list[Source]] = {}
    for src in sources:
        by_hash.setdefault(source_id(src), []).append(src)
    unique, dups = [], []
    for sha, group in by_hash.items():
        group = sorted(group, key=lambda s: s.source)
        unique.append(group[0])
        dups.extend(Duplicate(source=s.source, duplicate_of=group[0].source, sha256=sha) for s in group[1:])
    unique.sort(key=source_id)
    dups.sort(key=lambda d: (d.sha256, d.source))
    return unique, dups


def sources_per_shard(shard_size: int, variants: int) -> int:
    """How many clean images go into one shard so that it holds about ``shard_size`` samples."""
    if shard_size < 1 or variants < 1:
        raise ValueError("--shard-size and --variants must be at least 1")
    return max(1, shard_size // variants)


def group_sources(hashed: Iterable[Source], shard_size: int, variants: int) -> SourceGroups:
    """Dedup, sort by content hash and cut into groups of :func:`sources_per_shard`."""
    hashed = list(hashed)
    unique, dups = dedup(hashed)
    per = sources_per_shard(shard_size, variants)
    groups = tuple(tuple(unique[i : i + per]) for i in range(0, len(unique), per))
    return SourceGroups(groups=groups, duplicates=tuple(dups), n_listed=len(hashed))
