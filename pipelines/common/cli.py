"""Click helpers shared by the console scripts (``make-dataset``, ``daclip``, ``train-daclip``,
``train-restore``): one log format, lazily imported subcommands, and one error boundary.

The error boundary turns an expected failure (:func:`expected_errors`: bad files, unreadable
shards or manifests, full disks, images over the pixel limit ...) into one line on stderr and
exit code 1; ``-v``/``--verbose`` prints the traceback instead. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import tarfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click


def setup_logging(verbose: bool = False) -> None:
    """One log format for every console script (INFO, or DEBUG with ``-v``)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


class _PathOrURL(click.ParamType):
    """A URL (``s3://...``: passed on as the string, checked when read or listed) or a local path
    checked by ``click.Path(**local)``."""

    def __init__(self, name: str, **local: Any) -> None:
        self.name = name
        self.local = click.Path(**local)

    def convert(self, value, param, ctx):
        from .remote import is_url

        if is_url(value):
            return value
        return self.local.convert(value, param, ctx)


LocalOrURL = _PathOrURL("path", exists=True, dir_okay=False)  # an input file
LocalOrURLFolder = _PathOrURL("folder", exists=True, file_okay=False)  # an input folder
FolderOrURL = _PathOrURL("folder", file_okay=False, path_type=Path)  # an output folder that need not exist yet


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    ``make-dataset synthesize`` must start without importing torch or transformers, so each
    subcommand lives in its own module and is only imported when it is called (or listed).
    """

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_subcommands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@functools.cache
def expected_errors() -> tuple[type[BaseException], ...]:
    """What the boundary reports in one line: OS and tar errors, Arrow errors, ``ValueError``
    (``ManifestError``, ``ImageError``, ``UnsafePathError`` and JSON errors among them),
    ``EOFError`` and safetensors errors when safetensors is installed."""
    import pyarrow

    errors: list[type[BaseException]] = [OSError, EOFError, tarfile.TarError, pyarrow.ArrowException, ValueError]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:
        pass
    return tuple(errors)


def one_line(error: BaseException) -> str:
    """``Error: <message>`` on one line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return f"Error: {text}"


@contextlib.contextmanager
def error_boundary(verbose: bool = False) -> Iterator[None]:
    """Expected failures inside the block become one line on stderr and ``SystemExit(1)``;
    with ``verbose`` the traceback is printed too."""
    try:
        yield
    except expected_errors() as error:
        if verbose:
            traceback.print_exc()
        click.echo(one_line(error), err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        raise SystemExit(130) from None


class _Guarded:
    """Runs the command inside :func:`error_boundary`; its ``verbose`` parameter (``-v``) turns
    tracebacks on."""

    def invoke(self, ctx: click.Context):
        with error_boundary(bool(ctx.params.get("verbose"))):
            return super().invoke(ctx)  # type: ignore[misc]


class GuardedGroup(_Guarded, LazyGroup):
    """A :class:`LazyGroup` whose subcommands run inside :func:`error_boundary`."""


class GuardedCommand(_Guarded, click.Command):
    """A single command run inside :func:`error_boundary`: ``@click.command(cls=GuardedCommand)``
    (it needs a ``-v/--verbose`` option for tracebacks)."""


def console_group(doc: str, subcommands: dict[str, str], guarded: bool = False) -> click.Group:
    """A console script's lazy group with the shared ``-v/--verbose`` flag (one log setup for all);
    ``guarded``: its subcommands run inside :func:`error_boundary` (``-v`` also shows tracebacks)."""
    help_text = "Log debug messages" + ("; show the traceback of an error." if guarded else ".")

    @click.group(cls=GuardedGroup if guarded else LazyGroup, lazy_subcommands=subcommands, help=doc)
    @click.option("-v", "--verbose", is_flag=True, help=help_text)
    def group(verbose: bool) -> None:
        setup_logging(verbose)

    return group


class OldSpellings(click.Option):
    """An option whose first name is its one spelling; the other names are earlier spellings, kept
    working and hidden from ``--help``: ``@click.option("--out", "-o", cls=OldSpellings)``. Values under
    either name land in one parameter (``multiple=True`` gathers them in command-line order)."""

    def get_help_record(self, ctx: click.Context):
        names = self.opts
        self.opts = names[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = names


def manifest_inputs(path_type: click.ParamType = LocalOrURL, required: bool = False,
                    help: str = "A manifest (repeatable; manifests may also be given positionally).",
                    old_spellings: tuple[str, ...] = (),
                    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The one way a command reads manifests: positionally (``MANIFEST...``) and as repeatable
    ``--manifest`` (``old_spellings``: hidden earlier names of it), gathered into the command's
    ``manifests`` parameter (positional ones first)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def command(*args: Any, manifest_args: tuple = (), manifest_options: tuple = (), **kwargs: Any) -> Any:
            manifests = (*manifest_args, *manifest_options)
            if required and not manifests:
                raise click.UsageError("give at least one manifest: MANIFEST... or --manifest MANIFEST")
            return fn(*args, manifests=manifests, **kwargs)

        command = click.option("--manifest", *old_spellings, "manifest_options", cls=OldSpellings, multiple=True,
                               type=path_type, help=help)(command)
        return click.argument("manifest_args", nargs=-1, type=path_type, metavar="[MANIFEST]...")(command)

    return decorate
