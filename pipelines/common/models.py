"""One resolver for pretrained-model sources: a Hugging Face hub id, a local directory or a local file.

Every command that loads pretrained weights (BLIP captioning here; the base CLIP of
``daclip.controller.factory``; our own checkpoints) resolves its ``--model`` value with :func:`resolve_source` and loads
through :func:`load_or_explain`, so the message a user sees when weights cannot be had (no
network, nothing cached, a mistyped path) is written in one place and names the fix.

Accepted spellings (open_clip's convention, plus bare values):

- ``local-dir:PATH`` / ``local-file:PATH``: a local folder or file, which must exist;
- ``hf-hub:ORG/NAME``: a hub id;
- ``PATH``: an existing folder or file, or anything that looks like a path (``/``, ``./``, ``~``);
- ``ORG/NAME`` or ``NAME``: a hub id.

Importing this module touches neither the network nor the disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = [
    "ModelSource",
    "ModelUnavailableError",
    "hub_offline",
    "load_or_explain",
    "resolve_source",
    "unavailable_message",
]

T = TypeVar("T")

LOCAL_DIR = "local-dir"
LOCAL_FILE = "local-file"
HUB = "hub"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_SNAPSHOT = re.compile(r"^[0-9a-f]{40}$")


class ModelUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded; ``str(error)`` is a short message for the user."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from. ``ref`` is what ``from_pretrained`` receives."""

    spec: str  # as the user wrote it
    kind: str  # "hub" | "local-dir" | "local-file"
    ref: str  # hub id or absolute local path
    revision: str | None = None  # a commit hash when it can be known before loading

    @property
    def is_local(self) -> bool:
        return self.kind != HUB


def hub_offline() -> bool:
    """True when the Hugging Face hub is switched off through the environment."""
    return any(
        os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _looks_like_path(value: str) -> bool:
    return (
        value.startswith(("/", "./", "../", "~", ".\\")) or value in {".", ".."} or not _HUB_ID.match(value)
    )


def _local(
    kind: str, spec: str, path: Path, what: str, flag: str, example: str, hint: str | None
) -> ModelSource:
    path = path.expanduser()
    if not path.exists():
        raise ModelUnavailableError(
            f"cannot load {what}: local path {str(path)!r} does not exist. "
            + (hint or f"Pass {flag} {example} (a folder saved with save_pretrained) or a hub id.")
        )
    if kind == LOCAL_DIR and not path.is_dir():
        raise ModelUnavailableError(f"cannot load {what}: {str(path)!r} is not a folder")
    path = path.resolve()
    kind = LOCAL_DIR if path.is_dir() else LOCAL_FILE
    # A folder inside the hub cache (``.../snapshots/<commit>``) knows its revision.
    revision = path.name if kind == LOCAL_DIR and _SNAPSHOT.match(path.name) else None
    return ModelSource(spec=spec, kind=kind, ref=str(path), revision=revision)


def resolve_source(
    spec: str,
    what: str = "the model",
    flag: str = "--model",
    example: str = "/path/to/local/model",
    *,
    hint: str | None = None,
) -> ModelSource:
    """Classify ``spec`` as a hub id, a local folder or a local file (see the module docstring).

    Raises :class:`ModelUnavailableError` for a local path that does not exist; ``hint`` replaces
    the sentence that says what a local source must be (default: a ``save_pretrained`` folder).
    """
    spec = str(spec).strip()
    if not spec:
        raise ModelUnavailableError(f"cannot load {what}: {flag} is empty")
    for prefix, kind in ((f"{LOCAL_DIR}:", LOCAL_DIR), (f"{LOCAL_FILE}:", LOCAL_FILE)):
        if spec.startswith(prefix):
            return _local(kind, spec, Path(spec[len(prefix) :]), what, flag, example, hint)
    if spec.startswith("hf-hub:"):
        return ModelSource(spec=spec, kind=HUB, ref=spec[len("hf-hub:") :])
    path = Path(spec).expanduser()
    if path.exists() or _looks_like_path(spec):
        return _local(LOCAL_DIR if path.is_dir() else LOCAL_FILE, spec, path, what, flag, example, hint)
    return ModelSource(spec=spec, kind=HUB, ref=spec)


def unavailable_message(
    source: ModelSource,
    error: BaseException,
    what: str,
    flag: str,
    example: str,
    *,
    hint: str | None = None,
    download: str | None = None,
) -> str:
    """The short explanation shown instead of a traceback (one line).

    ``hint`` replaces the sentence on what a local source must hold, ``download`` the example
    download command (default: ``huggingface-cli download REF --local-dir EXAMPLE``).
    """
    reason = " ".join(str(error).split()).split(". ")[0].rstrip(".")  # first sentence only
    if len(reason) > 200:
        reason = reason[:197] + "..."
    if source.is_local:
        return f"cannot load {what} from {source.ref!r}: {reason}. " + (
            hint or "The folder must hold what save_pretrained wrote (config, weights, processor files)."
        )
    command = download or f"huggingface-cli download {source.ref} --local-dir {example}"
    if hub_offline():
        state, next_step = (
            "HF_HUB_OFFLINE is set",
            "or unset HF_HUB_OFFLINE where there is network so it downloads",
        )
    else:
        state = f"the hub could not be reached ({reason})"
        next_step = "set HF_HUB_OFFLINE=1 to use only the local cache without waiting on the network"
    return (
        f"cannot load {what} {source.ref!r}: it is not in the local Hugging Face cache and {state}. "
        f"Download it once where there is network (e.g. `{command}`) and pass {flag} {example}; {next_step}."
    )


def load_or_explain(
    source: ModelSource,
    loader: Callable[[str], T],
    what: str = "the model",
    flag: str = "--model",
    example: str = "/path/to/local/model",
    *,
    hint: str | None = None,
    download: str | None = None,
    errors: tuple[type[BaseException], ...] = (OSError, ValueError),
) -> T:
    """Call ``loader(source.ref)``; turn "weights not available" errors into :class:`ModelUnavailableError`.

    By default only I/O-shaped failures (``OSError``, which covers the hub's not-found and
    connection errors, and ``ValueError`` for unreadable configs) are translated; programming
    errors still raise as themselves. ``errors`` widens that for loaders whose "bad weights"
    errors are other types; ``hint`` and ``download`` go to :func:`unavailable_message`.
    """
    try:
        return loader(source.ref)
    except errors as error:
        message = unavailable_message(source, error, what, flag, example, hint=hint, download=download)
        raise ModelUnavailableError(message) from error
