"""The ``tjar-pipelines`` command.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int`` and keeps heavy
imports (Dagster) inside ``run``, so ``tjar-pipelines simulator`` starts in a fraction of a second.
Subcommands raise their errors; :func:`main` turns each into one line on stderr (with the
traceback too under ``--verbose``) and an exit code: 2 for input or configuration the command
refuses (our ``ValueError``s: registry, settings, arguments), 1 for everything else (the store,
the network, missing files).
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from tjar_pipelines import __version__, demo, report, sync
from tjar_pipelines.simulator import command as simulator_command
from tjar_pipelines.webhooks import command as webhooks_command

COMMANDS = {
    "simulator": (simulator_command, "serve the local Tjar simulator"),
    "demo": (demo, "serve the demo stores in the simulator and sync them"),
    "sync": (sync, "sync stores into the lake and DuckDB now"),
    "report": (report, "write an HTML sales report from DuckDB"),
    "webhooks": (webhooks_command, "receive Tjar webhooks; register and list subscriptions"),
}

EPILOG = """\
examples:
  tjar-pipelines demo                                   3 simulated stores, synced into data/demo
  tjar-pipelines sync --store acme --from 2025-01-01    backfill one store
  tjar-pipelines report --from 2025-06-01 --out june.html
  tjar-pipelines webhooks serve --port 8787
  tjar-pipelines COMMAND --help                         every option of a command

The registry and the data directory come from TJAR_STORES_FILE (stores.yaml) and TJAR_DATA_DIR
(data); see README.md for the other settings.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs; appends each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default == [] or default is argparse.SUPPRESS
        if action.option_strings and not unset and "default" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An argument parser whose every (sub)command accepts ``-v/--verbose``.

    Subcommand parsers are made from the same class, so the flag works before or after the
    command name, at any depth (``tjar-pipelines webhooks serve -v``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            # Unset unless given, so a subcommand's parser does not reset the top-level flag.
            default=argparse.SUPPRESS,
            help="on errors, print tracebacks (and Dagster's log of failed runs) too",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tjar-pipelines",
        description="Tjar store data into a Parquet lake and DuckDB, through Dagster.",
        epilog=EPILOG,
    )
    parser.set_defaults(verbose=False)
    parser.add_argument("--version", action="version", version=f"tjar-pipelines {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=help_text, description=module.__doc__))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    where = f"tjar-pipelines {args.command}"
    try:
        return COMMANDS[args.command][0].run(args)
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"{where}: {describe(exc, verbose=args.verbose)}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1


def describe(exc: BaseException, *, verbose: bool = False) -> str:
    """One line that says what went wrong and what to do about it.

    Our errors (registry, settings, Tjar client, report) carry their fix in the message; system
    errors get the usual one; anything else is a bug, and the line says how to see more.
    """
    from tjar_pipelines.client import TjarError

    if isinstance(exc, TjarError | ValueError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        text = f"{exc.strerror or exc}; another process has that port: pick another --port"
    elif isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror}: {exc.filename}; check the path and its permissions"
    elif isinstance(exc, OSError):
        text = str(exc) or type(exc).__name__
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
        if not verbose:
            text += " (run again with --verbose for the traceback)"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
