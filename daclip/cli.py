"""The ``daclip`` console group: classify, evaluate, restore, evaluate-restore, convert, app,
compare, and the two trainers (``train-daclip``, ``train-restore``; also console scripts of their
own, and under torchrun ``torchrun ... -m daclip.cli train-daclip``).

Each subcommand lives next to the function it wraps and is imported only when it runs, so
``--help`` starts fast.
"""

from __future__ import annotations

from pipelines.common.cli import console_group

SUBCOMMANDS = {
    "classify": "daclip.controller.classify:command",
    "evaluate": "daclip.controller.evaluate:command",
    "restore": "daclip.restoration.restore:command",
    "evaluate-restore": "daclip.restoration.evaluate:command",
    "convert": "daclip.convert.command:command",
    "app": "daclip.app.server:command",
    "compare": "daclip.restoration.compare:command",
    "export": "daclip.export:command",
    "train-daclip": "daclip.controller.train_command:command",
    "train-restore": "daclip.restoration.train_command:command",
}

cli = console_group("DA-CLIP: train, classify degradations, evaluate, restore images.", SUBCOMMANDS, guarded=True)


def main() -> None:
    cli()


if __name__ == "__main__":  # torchrun ... -m daclip.cli train-daclip
    main()
