"""The one error a conversion raises, and the key check that words it."""

from __future__ import annotations

__all__ = ["ConversionError", "check_keys", "short_list"]


class ConversionError(ValueError):
    """A source file that cannot be converted; the message is one line."""


def short_list(keys: set[str] | list[str], limit: int = 6) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_keys(what: str, expected: set[str], found: set[str], map_back: dict[str, str] | None = None) -> None:
    """Raise with the missing and unexpected keys (in the source's own names where known)."""
    missing, unexpected = expected - found, found - expected
    if not missing and not unexpected:
        return
    back = map_back or {}
    parts = []
    if missing:
        parts.append(f"missing {short_list(missing)}")
    if unexpected:
        parts.append(f"unexpected {short_list({back.get(k, k) for k in unexpected})}")
    raise ConversionError(f"{what} keys do not match the inferred architecture: {'; '.join(parts)}")
