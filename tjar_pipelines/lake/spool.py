"""The orders of one list scan, kept on disk until the scan is complete, then turned into rows.

A scan's slices may only be replaced once every page of it has been read, so its orders have
to wait somewhere. They wait on local disk as JSON text, so memory holds one batch however
large the window. Then DuckDB builds each day's ``orders`` and
``order_items`` rows from that file (see :mod:`tjar_pipelines.lake.order_rows`).
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tjar_pipelines.client import Order
from tjar_pipelines.client.records import identifier, order_lines
from tjar_pipelines.client.retrying import loads
from tjar_pipelines.lake import order_rows
from tjar_pipelines.lake.tables import (
    ORDER_ITEMS,
    ORDERS,
    TIMESTAMP,
    orders_table,
    raw_json,
)

SPOOLED_ORDERS = pa.schema(
    [
        ("identifier", pa.string()),
        ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
        ("order_date", pa.date32()),
        ("line_count", pa.int32()),
        ("raw", pa.string()),
    ]
)
SPOOLED_LINES = pa.schema(
    [
        ("identifier", pa.string()),
        ("order_date", pa.date32()),
        ("line_number", pa.int32()),
        ("raw", pa.string()),
    ]
)


class _Appender:
    """Rows of one spool file: gathered in columns, appended to the file in batches."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self._schema = path, schema
        self.columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        self._writer: pq.ParquetWriter | None = None

    def flush(self) -> None:
        if not self.columns["raw"]:
            return
        batch = pa.Table.from_pydict(self.columns, schema=self._schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self._schema, compression="lz4")
        self._writer.write_table(batch)
        self.columns = {name: [] for name in self._schema.names}

    def close(self) -> bool:
        """Writes what is left; whether the file exists."""
        self.flush()
        if self._writer is None:
            return False
        self._writer.close()
        return True


class OrderSpool:
    """Orders gathered for one scan window, by store-local day.

    Everything lives in a temporary folder of the store's spool (``Lake.spool_dir``, outside
    the lake the views read; ``Lake.sweep`` removes what a killed run left there):
    ``orders.parquet`` and ``lines.parquet`` take the orders and their lines as they are
    read; once the window is complete, :meth:`tables` has DuckDB turn them into rows in one
    pass per table, into files that each day is then read from.

    Args:
        folder: The store's spool folder.
        store: The store's slug, written in every row.
        timezone: The store's zone, for the Python parser of unusual orders.
        synced_at: When this sync began, written in every row.
        batch_rows: Orders held in memory before they are appended to the file.
        duckdb_config: Settings of the DuckDB connection that builds the rows (threads,
            memory_limit), so a run's memory stays bounded.
    """

    def __init__(
        self, folder: Path, store: str, timezone: str, synced_at: dt.datetime, *,
        batch_rows: int = 2_000, duckdb_config: Mapping[str, str | int] | None = None,
    ) -> None:  # fmt: skip
        self.folder = folder / uuid.uuid4().hex
        self.folder.mkdir(parents=True)
        self.rows = 0
        self.parsed_in_python = 0  # unusual orders handed to the Python records
        self._store, self._timezone, self._synced_at = store, timezone, synced_at
        self._batch_rows = batch_rows
        self._config: dict[str, str | int | bool] = {
            "threads": 1,
            "memory_limit": "128MB",
            "preserve_insertion_order": False,
            **(duckdb_config or {}),
        }
        self._orders = _Appender(self.folder / "orders.parquet", SPOOLED_ORDERS)
        self._lines = _Appender(self.folder / "lines.parquet", SPOOLED_LINES)
        self._pending = 0
        self._built = False

    def add(
        self,
        payload: Mapping[str, Any],
        created: dt.datetime | None,
        updated: dt.datetime | None,
        day: dt.date,
    ) -> None:
        """Keeps one order (its JSON and the instants the caller already read) under ``day``."""
        if self._built:
            raise RuntimeError("orders cannot be added once the rows were built")
        ident = identifier(payload.get("identifier")) or identifier(payload.get("id"))
        lines = order_lines(payload)
        orders = self._orders.columns
        orders["identifier"].append(ident)
        orders["created_at"].append(created)
        orders["updated_at"].append(updated)
        orders["order_date"].append(day)
        orders["line_count"].append(len(lines))
        orders["raw"].append(raw_json(payload))
        spooled = self._lines.columns
        for number, line in lines:
            spooled["identifier"].append(ident)
            spooled["order_date"].append(day)
            spooled["line_number"].append(number)
            spooled["raw"].append(raw_json(line))
        self.rows += 1
        self._pending += 1
        if self._pending >= self._batch_rows:
            self._orders.flush()
            self._lines.flush()
            self._pending = 0

    def tables(self, day: dt.date) -> tuple[pa.Table, pa.Table]:
        """The ``orders`` and ``order_items`` rows of the orders kept under ``day``."""
        if not self._built:
            self._build()
        orders_t = self._day_rows("orders", day)
        if orders_t is None:
            return ORDERS.empty_table(), ORDER_ITEMS.empty_table()
        items_t = self._day_rows("items", day)
        if items_t is None:  # no order of the window has lines
            items_t = ORDER_ITEMS.append(pa.field("ok", pa.bool_())).empty_table()
        unusual = _not_ok(orders_t, "identifier") | _not_ok(items_t, "order_identifier")
        orders_t, items_t = orders_t.drop_columns("ok"), items_t.drop_columns("ok")
        if not unusual:
            return orders_t.cast(ORDERS), items_t.cast(ORDER_ITEMS)
        # Orders with a value the SQL does not read like Python does: Python parses them.
        parsed = [
            replace(
                Order.from_api(loads(raw), store=self._store, timezone=self._timezone),
                order_date=day,
            )
            for ident, raw in zip(*_columns(orders_t, "identifier", "raw"), strict=True)
            if ident in unusual
        ]
        self.parsed_in_python += len(parsed)
        more_orders, more_items = orders_table(parsed, self._synced_at)
        return (
            pa.concat_tables([_without(orders_t, "identifier", unusual).cast(ORDERS), more_orders]),
            pa.concat_tables(
                [_without(items_t, "order_identifier", unusual).cast(ORDER_ITEMS), more_items]
            ),
        )

    def discard(self) -> None:
        """Removes the temporary folder (the window was written, or will not be)."""
        self._orders.close()
        self._lines.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _build(self) -> None:
        """One DuckDB pass per table over the window's orders, into a file each."""
        self._built = True
        has_orders, has_lines = self._orders.close(), self._lines.close()
        if not has_orders:
            return
        config = {**self._config, "temp_directory": str(self.folder / "tmp")}
        with duckdb.connect(config=config) as con:
            con.execute(order_rows.MACROS)
            for sql, source, target, more in (
                (order_rows.ORDERS_SQL, self._orders, "orders", {"synced_at": self._synced_at}),
                (order_rows.ITEMS_SQL, self._lines, "items", {}),
            ):
                if source is self._lines and not has_lines:
                    continue
                # Streamed in small row groups, so a pass holds about one row group. Stores
                # list newest first, so a day's rows sit in few row groups, and reading a day
                # through the row groups' statistics skips the others.
                path = str(self.folder / f"{target}.rows.parquet").replace("'", "''")
                con.execute(
                    f"COPY ({sql}) TO '{path}' "
                    "(FORMAT parquet, COMPRESSION lz4, ROW_GROUP_SIZE 2048)",
                    {"store": self._store, "spool": str(source.path), **more},
                )

    def _day_rows(self, name: str, day: dt.date) -> pa.Table | None:
        path = self.folder / f"{name}.rows.parquet"
        if not path.exists():
            return None
        table = pq.read_table(path, filters=[("order_date", "=", day)], use_threads=False)
        return table if table.num_rows or name == "items" else None


def _columns(table: pa.Table, *names: str) -> list[list[Any]]:
    return [table[name].to_pylist() for name in names]


def _not_ok(table: pa.Table, column: str) -> set[str]:
    """The ``column`` values of the rows whose ``ok`` is false."""
    return {value for value, ok in zip(*_columns(table, column, "ok"), strict=True) if not ok}


def _without(table: pa.Table, column: str, identifiers: set[str]) -> pa.Table:
    """The rows of ``table`` whose ``column`` is not one of ``identifiers``."""
    keep = [value not in identifiers for value in table[column].to_pylist()]
    return table.filter(pa.array(keep, type=pa.bool_()))
