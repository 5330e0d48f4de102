"""The ``daclip`` console script (classify, evaluate, restore, evaluate-restore)."""

from __future__ import annotations

import click

from pipelines.common.cli import LazyGroup, setup_logging

SUBCOMMANDS = {
    "classify": "daclip.controller.classify:command",
    "evaluate": "daclip.controller.evaluate:command",
    "restore": "daclip.restoration.restore:command",
    "evaluate-restore": "daclip.restoration.evaluate:command",
}


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def cli(verbose: bool) -> None:
    """DA-CLIP inference: classify degradations, evaluate, restore images."""
    setup_logging(verbose)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
