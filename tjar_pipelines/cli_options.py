"""Options several ``tjar-pipelines`` subcommands share: which stores, and which days."""

from __future__ import annotations

import argparse
import datetime as dt


def add_stores_and_days(
    parser: argparse.ArgumentParser, *, stores: str, first: str, last: str
) -> None:
    """``--store`` (repeatable), ``--from`` and ``--to``, each with the command's own help."""
    parser.add_argument("--store", action="append", default=[], metavar="SLUG", help=stores)
    for flag, dest, text in (("--from", "first", first), ("--to", "last", last)):
        parser.add_argument(
            flag, dest=dest, type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help=text
        )


def check_day_range(first: dt.date | None, last: dt.date | None) -> None:
    """Refuses a reversed ``--from``/``--to``.

    Raises:
        ValueError: ``first`` is after ``last``.
    """
    if first and last and first > last:
        raise ValueError(f"--from {first} is after --to {last}; swap them")
