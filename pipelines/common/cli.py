"""Click helpers shared by the console scripts (``make-dataset``, ``daclip``)."""

from __future__ import annotations

import importlib
import logging

import click


def setup_logging(verbose: bool = False) -> None:
    """One log format for every console script (INFO, or DEBUG with ``-v``)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


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


def console_group(doc: str, subcommands: dict[str, str]) -> click.Group:
    """A console script's lazy group with the shared ``-v/--verbose`` flag (one log setup for all)."""

    @click.group(cls=LazyGroup, lazy_subcommands=subcommands, help=doc)
    @click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
    def group(verbose: bool) -> None:
        setup_logging(verbose)

    return group
