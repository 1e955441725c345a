"""Where each slice of each table lives, and how it is replaced atomically.

Layout under ``{data_dir}/lake`` (hive-style, one file per slice)::

    orders/store=<slug>/date=<YYYY-MM-DD>/part.parquet
    order_items/store=<slug>/date=<YYYY-MM-DD>/part.parquet
    products/store=<slug>/part.parquet
    daily_sales/store=<slug>/part.parquet
    product_sales/store=<slug>/part.parquet
    <table>/_schema.parquet          zero rows; keeps the DuckDB views valid before any sync

A slice is written to a temporary file beside its target and renamed over it, so a reader (or
a crash) only ever sees the old file or the new one. The store and date are columns inside
every file too, so the files can move to object storage, where a PUT is the atomic step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from tjar_pipelines.lake import arrays
from tjar_pipelines.lake.tables import SCHEMAS

DAILY = ("orders", "order_items")


class StoreBusyError(TimeoutError):
    """Another run kept a store's lock (see :meth:`Lake.syncing`) longer than this one waits."""


class Lake:
    """The Parquet lake rooted at ``{data_dir}/lake``."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.root = self.data_dir / "lake"

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    def table_dir(self, table: str) -> Path:
        if table not in SCHEMAS:
            raise ValueError(f"unknown lake table {table!r}")
        return self.root / table

    def store_dir(self, table: str, store: str) -> Path:
        """The folder of one store's slices of ``table``."""
        return self.table_dir(table) / f"store={store}"

    def store_glob(self, table: str, store: str) -> str:
        """A pattern matching every slice file of one store of ``table``."""
        return str(self.store_dir(table, store) / "**" / "*.parquet")

    def spool_dir(self, store: str) -> Path:
        """Scratch space of a store's running syncs: local disk, never read by the views."""
        return self.data_dir / "spool" / f"store={store}"

    def slice_path(self, table: str, store: str, day: dt.date | None = None) -> Path:
        """The file of one slice: a (store, day) of a daily table, or a store of the others."""
        base = self.store_dir(table, store)
        if table in DAILY:
            if day is None:
                raise ValueError(f"{table} slices need a day")
            base = base / f"date={day.isoformat()}"
        return base / "part.parquet"

    def glob(self, table: str) -> str:
        """A pattern matching every file of ``table`` (for DuckDB's ``read_parquet``)."""
        return str(self.table_dir(table) / "**" / "*.parquet")

    def ensure(self) -> None:
        """Creates the folders and the zero-row schema file of every table."""
        for table, schema in SCHEMAS.items():
            path = self.table_dir(table) / "_schema.parquet"
            if not path.exists():
                self._replace_together([(path, schema, [])])

    def write_slice(
        self,
        table: str,
        data: pa.Table | Iterable[pa.Table],
        store: str,
        day: dt.date | None = None,
    ) -> Path:
        """Replaces one slice with ``data`` in one atomic step.

        ``data`` is a table or pieces of one, written as they come, so a slice of any size
        takes the memory of a piece; no rows at all make an empty slice.
        """
        return self.write_slices({table: data}, store, day)[table]

    def write_slices(
        self,
        data: Mapping[str, pa.Table | Iterable[pa.Table]],
        store: str,
        day: dt.date | None = None,
    ) -> dict[str, Path]:
        """Replaces the slices of several tables of one store (and day) together.

        Each is written in full to a temporary file first (as :meth:`write_slice`); only then
        do they replace the slices, one rename after the other, so a failure while writing
        (a bad row, a full disk) leaves every one of them as it was: an ``orders`` slice is
        never newer than its ``order_items``. Only a crash, or a failed sync of a folder,
        between the renames (each followed by a sync of its folder) could part them, until
        the day is synced again.
        """
        written = {table: self.slice_path(table, store, day) for table in data}
        self._replace_together(
            [
                (written[table], SCHEMAS[table], [rows] if isinstance(rows, pa.Table) else rows)
                for table, rows in data.items()
            ]
        )
        return written

    @contextlib.contextmanager
    def syncing(
        self,
        what: str,
        store: str,
        *,
        waiting: Callable[[], None] = lambda: None,
        timeout_s: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[None]:
        """One sync of a table (``what``) of ``store`` at a time on this machine.

        A run that reads a store's orders before another and writes after it would put its
        older rows back over the newer ones (a nightly reconciliation and a webhook's run of
        the same day, say): with this lock the run that reads later also writes later. Calls
        ``waiting`` once if another run holds it, then waits up to ``timeout_s``; the operating
        system drops the lock of a run that dies. Syncs of different stores, and of different
        tables of one store, do not wait for each other.

        Raises:
            StoreBusyError: Another run held it for ``timeout_s``.
        """
        path = self.data_dir / "locks" / f"{what}-{store}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:  # closing it unlocks
            deadline = None
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is None:
                        waiting()
                        deadline = clock() + timeout_s
                    elif clock() >= deadline:
                        raise StoreBusyError(
                            f"store {store}: another run has been syncing its {what} for over "
                            f"{timeout_s:.0f} s, so this run stopped waiting (a retry "
                            f"waits again); if no run is busy with the store, a stuck process "
                            f"holds {path}"
                        ) from None
                    sleep(0.5)  # polled, so that a bounded wait needs no thread of its own
            yield

    def sweep(self, store: str, *, older_than_s: float = 3600.0) -> int:
        """Deletes what killed runs left behind for the store; returns how many.

        That is temporary slice files older than ``older_than_s``, and spool folders older
        than that whose lock no process holds (a running sync holds its spool's lock, however
        long it runs; see :func:`hold_lock`).
        """
        cutoff = time.time() - older_than_s
        stale = [path for table in SCHEMAS for path in self.store_dir(table, store).rglob(".*.tmp")]
        spool = self.spool_dir(store)
        stale += spool.iterdir() if spool.is_dir() else []
        gone = 0
        for path in stale:
            try:
                if path.stat().st_mtime >= cutoff or (path.is_dir() and is_locked(path)):
                    continue
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
                gone += 1
            except FileNotFoundError:
                continue
        return gone

    def _replace_together(
        self, files: Iterable[tuple[Path, pa.Schema, Iterable[pa.Table]]]
    ) -> None:
        """Writes every file to its temporary first, then renames them over the old ones."""
        temporaries: list[tuple[Path, Path]] = []
        try:
            for path, schema, pieces in files:
                temporaries.append((self._write_temporary(path, schema, pieces), path))
            for temporary, path in temporaries:
                _put(temporary, path)
        finally:
            for temporary, _ in temporaries:
                temporary.unlink(missing_ok=True)

    @staticmethod
    def _write_temporary(path: Path, schema: pa.Schema, pieces: Iterable[pa.Table]) -> Path:
        """Writes ``pieces`` to a hidden file beside ``path`` and syncs it to disk.

        The views' glob skips the file, and :meth:`sweep` removes it if a killed run left it.
        """
        made = _make_folders(path.parent)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
                empty = True
                for piece in pieces:
                    if piece.num_rows:
                        writer.write_table(piece if piece.schema == schema else piece.cast(schema))
                        empty = False
                if empty:
                    writer.write_table(arrays.empty(schema))
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            for folder in made:  # a new day's folder must outlive a power cut, too
                _sync_folder(folder.parent)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return temporary


def _make_folders(folder: Path) -> list[Path]:
    """Creates ``folder`` and its missing parents; returns the ones it created, top first."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
    return missing[::-1]


def _put(temporary: Path, path: Path) -> None:
    """Renames a synced temporary file over ``path``, and syncs the rename to disk."""
    os.replace(temporary, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Syncs a folder's entries (a rename, a new file) to disk, where the system allows it."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a system or file system that cannot open folders
        return
    try:
        os.fsync(handle)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a folder it cannot sync
            raise
    finally:
        os.close(handle)


LOCK = ".lock"


def hold_lock(folder: Path) -> IO[bytes]:
    """Takes the lock of a working folder; it holds until the returned file is closed.

    The operating system releases it when the process dies, so :meth:`Lake.sweep` can tell a
    folder in use from one a killed run left.
    """
    handle = open(folder / LOCK, "wb")  # the caller closes it, ending the lock
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def is_locked(folder: Path) -> bool:
    """Whether a live process holds ``folder``'s lock (see :func:`hold_lock`)."""
    try:
        with open(folder / LOCK, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except BlockingIOError:
        return True
    return False
