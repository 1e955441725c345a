"""The ``tjar-pipelines`` command.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int`` and keeps heavy
imports (Dagster) inside ``run``, so ``tjar-pipelines simulator`` starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tjar_pipelines import __version__, demo, sync
from tjar_pipelines.simulator import command as simulator_command
from tjar_pipelines.webhooks import command as webhooks_command

COMMANDS = {
    "simulator": (simulator_command, "serve the local Tjar simulator"),
    "demo": (demo, "serve the demo stores in the simulator and sync them"),
    "sync": (sync, "sync stores into the lake and DuckDB now"),
    "webhooks": (webhooks_command, "receive Tjar webhooks; register and list subscriptions"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tjar-pipelines", description="Tjar data into DuckDB.")
    parser.add_argument("--version", action="version", version=f"tjar-pipelines {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=help_text, description=module.__doc__))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][0].run(args)


if __name__ == "__main__":
    sys.exit(main())
