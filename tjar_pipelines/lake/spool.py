"""The rows of one list scan's orders, built as they arrive, kept on disk until it is complete.

A scan's slices may only be replaced once every page of it has been read, so its rows have to
wait somewhere: on local disk, so memory holds a batch or two however large the window. Each
batch of orders goes from Python lists to Arrow to DuckDB, which cuts out their lines and builds
their ``orders`` and ``order_items`` rows (see :mod:`tjar_pipelines.lake.order_rows`) on a worker
thread while the next pages are read; DuckDB runs without the GIL, so that work overlaps the
waits on the store and Python's own work on the next pages. The worker runs at a lower CPU
priority (``BUILD_NICENESS``): where cores are short, the reads come first.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tjar_pipelines.client import Order
from tjar_pipelines.client.raw_records import RawRecord
from tjar_pipelines.client.retrying import loads
from tjar_pipelines.lake import arrays, order_rows
from tjar_pipelines.lake.files import hold_lock
from tjar_pipelines.lake.tables import (
    ORDER_ITEMS,
    ORDERS,
    TIMESTAMP,
    empty_columns,
    orders_table,
)

log = logging.getLogger("tjar_pipelines.lake.spool")

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
# A batch goes to DuckDB at this much order JSON even before batch_rows orders: DuckDB needs
# several times a batch's size to build its rows.
BATCH_BYTES = 8 * 1024 * 1024
# One DuckDB database per process builds every spool's rows, at most two batches at a time
# (one per core), so memory stays within its limit however many stores sync at once.
DUCKDB_CONFIG: Mapping[str, str | int | bool] = {
    "threads": 1,
    "memory_limit": "256MB",
    "preserve_insertion_order": False,
}
_BUILDS = threading.BoundedSemaphore(2)
# DuckDB reads a batch in chunks of at most this many orders (of at most 2,048 if the Arrow
# table is one piece). Its JSON functions hold the parsed orders of a chunk at once: chunks of
# 256 take half the memory of 2,048 (a 2,000-order build: +31 instead of +60 MB), for the same
# CPU (measured).
CHUNK_ROWS = 256
# How much lower than the rest of the process the builds run (Linux niceness, added to the
# thread's own): they are the one part of a sync that can wait, and yield the cores to the
# page readers and whatever else the machine runs, a local store's server included.
BUILD_NICENESS = 10
# Decoded batch files a spool keeps while their days are written; the file in use stays even
# when it alone is larger (see OrderSpool._decoded).
DECODED_BYTES = 16 * 1024 * 1024
_ENGINE: list[duckdb.DuckDBPyConnection] = []
_ENGINE_LOCK = threading.Lock()


def _engine() -> duckdb.DuckDBPyConnection:
    """The process's DuckDB database for spools, created on first use (not at import).

    It spills to a folder of the system's temporary directory that DuckDB creates only when
    it has to (rarely: batches are small) and that goes when the process exits.
    """
    with _ENGINE_LOCK:
        if not _ENGINE:
            scratch = Path(tempfile.gettempdir()) / f"tjar-spool-duckdb-{uuid.uuid4().hex}"
            atexit.register(shutil.rmtree, scratch, ignore_errors=True)
            engine = duckdb.connect(config={**DUCKDB_CONFIG, "temp_directory": str(scratch)})
            engine.execute(order_rows.MACROS)
            _ENGINE.append(engine)
        return _ENGINE[0]


class OrderSpool:
    """The rows of the orders gathered for one scan window, by store-local day.

    They live in a temporary folder of the store's spool (``Lake.spool_dir``, outside the lake
    the views read; ``Lake.sweep`` removes what a killed run left there), one Parquet file per
    batch and table, sorted by day. Reading a day decodes only the files of the batches that
    hold it, and keeps a file decoded while the next days need it.

    Args:
        folder: The store's spool folder.
        store: The store's slug, written in every row.
        timezone: The store's zone, for the Python parser of unusual orders.
        synced_at: When this sync began, written in every row.
        batch_rows: Orders gathered before a batch goes to DuckDB.
    """

    def __init__(
        self, folder: Path, store: str, timezone: str, synced_at: dt.datetime, *,
        batch_rows: int = 2_000,
    ) -> None:  # fmt: skip
        self.folder = folder / uuid.uuid4().hex
        self.folder.mkdir(parents=True)
        self._lock = hold_lock(self.folder)  # until discard(): Lake.sweep leaves it alone
        self.rows = 0
        self.parsed_in_python = 0  # unusual orders handed to the Python records
        self._store, self._timezone, self._synced_at = store, timezone, synced_at
        self._batch_rows = batch_rows
        self._batch_bytes = 0
        self._orders = empty_columns(SPOOLED_ORDERS)
        self._batches = 0
        self._batches_of_day: dict[dt.date, list[int]] = {}
        self._unusual_batches: set[int] = set()  # those with rows whose ok is false
        self._con: duckdb.DuckDBPyConnection | None = None
        self._worker = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="tjar-spool", initializer=_build_in_background
        )
        self._building: Future[None] | None = None
        self._cache: OrderedDict[tuple[str, int], pa.Table] = OrderedDict()
        self._closed = False

    def add(
        self,
        record: RawRecord,
        created: dt.datetime | None,
        updated: dt.datetime | None,
        day: dt.date,
    ) -> None:
        """Keeps one order (its JSON and the instants the caller already read) under ``day``.

        The record's JSON is trusted to be valid UTF-8, as every :class:`RawRecord` the client
        makes is (Arrow does not check it again).
        """
        if self._closed:
            raise RuntimeError("orders cannot be added once the rows were read")
        orders = self._orders
        orders["identifier"].append(record.identifier)
        orders["created_at"].append(created)
        orders["updated_at"].append(updated)
        orders["order_date"].append(day)
        orders["line_count"].append(record.line_count)
        orders["raw"].append(record.json)
        self._batch_bytes += len(record.json)
        self.rows += 1
        if len(orders["raw"]) >= self._batch_rows or self._batch_bytes >= BATCH_BYTES:
            self._submit()

    def day(self, day: dt.date) -> tuple[Iterator[pa.Table], Iterator[pa.Table]]:
        """The ``orders`` and ``order_items`` rows of the orders kept under ``day``.

        Each comes in one piece per batch that holds the day (at most ``batch_rows`` orders,
        or their lines), so a day of any size is written with bounded memory. Orders with a
        value the SQL does not read exactly like the Python records are parsed by those
        instead, and their rows come last.
        """
        if not self._closed:
            self._submit()
            self._wait()
            self._closed = True
        for key, rows in list(self._cache.items()):  # files sorted by day: done with them
            if rows.num_rows and rows["order_date"][-1].as_py() < day:
                del self._cache[key]
        unusual = self._not_ok("orders", day, "identifier")
        unusual |= self._not_ok("items", day, "order_identifier")
        wanted = arrays.array(sorted(unusual), pa.string())  # once a day, for every piece's filter
        return (
            self._rows("orders", day, "identifier", wanted, ORDERS, 0),
            self._rows("items", day, "order_identifier", wanted, ORDER_ITEMS, 1),
        )

    def discard(self) -> None:
        """Removes the temporary folder (the window was written, or will not be)."""
        self._closed = True
        self._cache.clear()
        try:
            with contextlib.suppress(Exception):  # the run already failed; its rows go anyway
                self._wait()
        finally:
            self._worker.shutdown()
            if self._con is not None:
                self._con.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            self._lock.close()

    def _submit(self) -> None:
        """Hands the gathered orders to DuckDB; waits while the batch before is still built."""
        if not self._orders["raw"]:
            return
        days = set(self._orders["order_date"])
        # The records' JSON is valid UTF-8 (checked when their pages were read): Arrow need not
        # check it again, which would take as long as the rest of the conversion.
        raw = arrays.array(self._orders["raw"], pa.binary()).view(pa.string())
        orders = arrays.table({**self._orders, "raw": raw}, SPOOLED_ORDERS)
        self._orders = empty_columns(SPOOLED_ORDERS)
        self._batch_bytes = 0
        self._wait()  # at most one batch in DuckDB and one in the lists: bounded memory
        for day in days:
            self._batches_of_day.setdefault(day, []).append(self._batches)
        self._building = self._worker.submit(self._build, orders, self._batches)
        self._batches += 1

    def _wait(self) -> None:
        building, self._building = self._building, None
        if building is not None:
            building.result()

    def _build(self, orders: pa.Table, number: int) -> None:
        if self._con is None:
            # Its own connection: its own views, the process's memory limit.
            self._con = _engine().cursor()
        try:
            with _BUILDS:
                self._copy(self._con, orders, number)
        except duckdb.OutOfMemoryException:
            log.warning(
                "store %s: DuckDB ran out of memory building %d orders; Python parses them",
                self._store,
                orders.num_rows,
            )
            self._copy_in_python(orders, number)

    def _copy(self, con: duckdb.DuckDBPyConnection, orders: pa.Table, number: int) -> None:
        chunks = pa.Table.from_batches(orders.to_batches(CHUNK_ROWS), orders.schema)
        con.register("spooled_orders", chunks)
        try:
            for name, sql, more in (
                ("orders", order_rows.ORDERS_SQL, {"synced_at": self._synced_at}),
                ("items", order_rows.ITEMS_SQL, {}),
            ):
                path = self._batch_file(name, number)
                path.parent.mkdir(exist_ok=True)
                con.execute(
                    f"COPY ({sql} ORDER BY order_date) TO '{_quoted(path)}' "
                    "(FORMAT parquet, COMPRESSION lz4)",
                    {"store": self._store, **more},
                )
                if not _all_ok(path):
                    self._unusual_batches.add(number)
        finally:
            con.unregister("spooled_orders")

    def _copy_in_python(self, orders: pa.Table, number: int) -> None:
        """The batch's rows as :meth:`_copy` writes them, from the Python records.

        Under the same file names, so whatever DuckDB wrote of the batch is replaced.
        """
        tables = self._python_rows(orders["raw"], orders["order_date"].to_pylist())
        for name, rows in zip(("orders", "items"), tables, strict=True):
            rows = rows.append_column("ok", arrays.array([True] * rows.num_rows, pa.bool_()))
            path = self._batch_file(name, number)
            path.parent.mkdir(exist_ok=True)
            pq.write_table(rows.sort_by("order_date"), path)

    def _python_rows(self, raws: Any, days: list[dt.date]) -> tuple[pa.Table, pa.Table]:
        """The rows of spooled orders (``raws``, their JSON) from the Python records.

        Each on the day the spool keeps it under, and with its JSON as the store sent it, like
        the rows DuckDB builds.
        """
        parsed = [
            replace(
                Order.from_api(loads(raw), store=self._store, timezone=self._timezone),
                order_date=day,
            )
            for raw, day in zip(raws.to_pylist(), days, strict=True)
        ]
        orders, items = orders_table(parsed, self._synced_at)
        column = orders.schema.get_field_index("raw")
        return orders.set_column(column, "raw", raws.cast(pa.string())), items

    def _batch_file(self, name: str, number: int) -> Path:
        """Where the rows of ``name`` (``orders`` or ``items``) of batch ``number`` are kept."""
        return self.folder / name / f"{number:06d}.parquet"

    def _day_rows(
        self, name: str, day: dt.date, keep: Callable[[pa.Table], Any] | None = None,
        *, unusual_only: bool = False,
    ) -> Iterator[pa.Table]:  # fmt: skip
        """The day's rows of ``name`` (``orders`` or ``items``), one piece per batch file.

        ``keep``, given the rows of a batch file, returns a mask of the rows to keep besides.
        With ``unusual_only``, only from the batches that hold rows whose ``ok`` is false.
        """
        if not (self.folder / name).is_dir():
            if self._batches:
                raise RuntimeError(
                    f"store {self._store}: the spool {self.folder} is gone while its rows were "
                    "written; another process removed it. Nothing was replaced for this day "
                    "on; run the sync again."
                )
            return
        numbers = self._batches_of_day.get(day, [])
        if unusual_only:
            numbers = [n for n in numbers if n in self._unusual_batches]
        that_day = arrays.scalar(day, pa.date32())  # once, for every batch file's filter
        for number in numbers:
            rows = self._decoded(name, number)
            mask = pc.call_function("equal", [rows["order_date"], that_day])
            if keep is not None:
                mask = pc.call_function("and", [mask, keep(rows)])
            yield rows.filter(mask)

    def _decoded(self, name: str, number: int) -> pa.Table:
        """The rows of one batch file, decoded once while the days it holds are read.

        Days are read in order and each file is sorted by day, so a file usually serves
        several days in a row. The files kept take at most ``DECODED_BYTES``, except that the
        file in use always stays.
        """
        key = (name, number)
        rows = self._cache.pop(key, None)
        if rows is None:
            rows = pq.ParquetFile(self._batch_file(name, number)).read(use_threads=False)
        self._cache[key] = rows  # the most recently used last
        kept = sum(table.nbytes for table in self._cache.values())
        while kept > DECODED_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            kept -= dropped.nbytes
        return rows

    def _not_ok(self, name: str, day: dt.date, column: str) -> set[str]:
        """The ``column`` values of the day's rows of ``name`` whose ``ok`` is false."""
        return {
            value
            for rows in self._day_rows(name, day, _not_ok, unusual_only=True)
            for value in rows.column(column).to_pylist()
        }

    def _rows(
        self, name: str, day: dt.date, column: str, unusual: pa.Array, schema: pa.Schema,
        part: int,
    ) -> Iterator[pa.Table]:  # fmt: skip
        """The day's rows of ``name`` but those of the ``unusual`` orders, then theirs."""
        for rows in self._day_rows(name, day):
            rows = rows.select(schema.names)
            if len(unusual):
                rows = _without(rows, column, unusual)
            if rows.num_rows:
                yield rows.cast(schema)
        for tables in self._parsed(day, unusual) if len(unusual) else ():
            self.parsed_in_python += tables[0].num_rows if part == 0 else 0  # count once
            yield tables[part]

    def _parsed(self, day: dt.date, unusual: pa.Array) -> Iterator[tuple[pa.Table, pa.Table]]:
        """The rows of the ``unusual`` orders of ``day`` from the Python records, in batches."""
        for rows in self._day_rows("orders", day, lambda t: _is_in(t["identifier"], unusual)):
            for start in range(0, rows.num_rows, self._batch_rows):
                raws = rows.column("raw").slice(start, self._batch_rows)
                yield self._python_rows(raws, [day] * len(raws))


def _build_in_background() -> None:
    """Lowers the calling thread's CPU priority by ``BUILD_NICENESS`` (Linux only).

    On Linux each thread has its own niceness; elsewhere ``setpriority`` would take the whole
    process, so there the builds keep the process's priority.
    """
    if sys.platform != "linux" or BUILD_NICENESS <= 0:
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # a sandbox may forbid it: then the builds just compete
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + BUILD_NICENESS))


def _not_ok(rows: pa.Table) -> Any:
    """A mask of the rows whose ``ok`` is false or missing."""
    return pc.call_function(
        "invert", [pc.call_function("coalesce", [rows["ok"], arrays.scalar(False, pa.bool_())])]
    )


def _is_in(values: Any, identifiers: pa.Array) -> Any:
    """A mask of the ``values`` that are one of ``identifiers``."""
    return pc.call_function("is_in", [values], pc.SetLookupOptions(identifiers))


def _without(table: pa.Table, column: str, identifiers: pa.Array) -> pa.Table:
    """The rows of ``table`` whose ``column`` is not one of ``identifiers``."""
    return table.filter(pc.call_function("invert", [_is_in(table[column], identifiers)]))


def _all_ok(path: Path) -> bool:
    """Whether every row of the spool file ``path`` has ``ok`` true, from its footer."""
    metadata = pq.read_metadata(path)
    column = metadata.schema.names.index("ok")
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        if (
            statistics is None
            or not statistics.has_min_max
            or statistics.min is not True
            or statistics.null_count
        ):
            return False
    return True


def _quoted(path: Path) -> str:
    """``path`` inside a SQL string literal."""
    return str(path).replace("'", "''")
