"""Write a one-page HTML sales report from the DuckDB database, for people who do not write SQL.

Revenue per day and store, the store totals, the top products and the order status mix of a
period, read from $TJAR_DATA_DIR/tjar.duckdb (opened read-only, so syncs keep running). The
page is a single file with its CSS and SVG charts inline: it loads nothing from the network and
can be mailed or archived as it is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tjar_pipelines import charts
from tjar_pipelines.cli_options import add_stores_and_days
from tjar_pipelines.report.data import (
    Product,
    ReportData,
    ReportError,
    StoreTotals,
    load,
    period,
)
from tjar_pipelines.report.page import render

__all__ = ["Product", "ReportData", "ReportError", "StoreTotals", "load", "render"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stores_and_days(
        parser,
        stores="store to include (repeatable; default: every store with orders)",
        first="first day (store-local order day; default: the first day with orders)",
        last="last day (default: the last day with orders)",
    )
    parser.add_argument(
        "--top", type=_count, default=10, metavar="N", help="products in the top-products table"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="HTML file to write (default: $TJAR_DATA_DIR/report.html)",
    )


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from tjar_pipelines.settings import Settings

    settings = Settings.from_env()
    database = settings.data_dir / "tjar.duckdb"
    out: Path = args.out or settings.data_dir / "report.html"
    data = load(database, args.store, args.first, args.last, top=args.top)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    who = ", ".join(data.stores) or "no stores"
    if data.empty:
        when = f" on {period(data)}" if data.first else ""
        sys.stderr.write(
            f"tjar-pipelines report: no orders for {who}{when} in {database}; run "
            f"`tjar-pipelines sync` first (wrote {out}, which says so)\n"
        )
        return 0
    revenue = sum(t.revenue for t in data.totals)
    orders = sum(t.orders for t in data.totals)
    sys.stdout.write(
        f"Wrote {out} ({out.stat().st_size // 1024 + 1} KB): {who}, {period(data)}, "
        f"revenue {charts.money(revenue)} SAR from {orders:,} orders\n"
    )
    return 0
