"""The durable webhook queue: SQLite in WAL mode under the data directory.

Several receiver processes append to it and the sensor reads from it at the same time. A row
is committed (and the WAL synced to disk) before the receiver answers 2xx, so a delivery Tjar
saw accepted survives a crash of the receiver. ``(store, delivery_id)`` is unique, so a
re-delivered event is stored once. Events that cannot be mapped to a partition move to
``dead_letters`` with the reason. Events are pruned ``retention_days`` after they arrived (once
read), dead letters that long after they became dead letters.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    store TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event TEXT NOT NULL,
    received_at REAL NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (store, delivery_id)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    store TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event TEXT NOT NULL,
    received_at REAL NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    dead_at REAL
);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One stored delivery, as the sensor routes it: without its payload, which stays on disk.

    Attributes:
        created_at: The payload's ``data.created_at`` if it is a string, else ``None``.
    """

    seq: int
    store: str
    delivery_id: str
    event: str
    received_at: float
    created_at: str | None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A verified delivery about to be stored."""

    store: str
    delivery_id: str
    event: str
    payload: str


class WebhookQueue:
    """Opens (and creates) the queue at ``path``; one connection per instance and thread."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # 2xx means on disk, not just in the WAL
        self._db.executescript(SCHEMA)
        self._add_dead_at()
        # The first process to open a new file names it; the others read that name.
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('queue_id', ?)", (uuid.uuid4().hex[:12],)
        )
        [(self.queue_id,)] = self._db.execute(
            "SELECT value FROM meta WHERE key = 'queue_id'"
        ).fetchall()

    def _add_dead_at(self) -> None:
        """Gives a queue file of an older version the ``dead_letters.dead_at`` column."""
        with self._transaction():  # several processes may open the file at once
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(dead_letters)")}
            if "dead_at" not in columns:
                self._db.execute("ALTER TABLE dead_letters ADD COLUMN dead_at REAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> WebhookQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def append(self, events: Sequence[NewEvent], *, now: float | None = None) -> list[bool]:
        """Stores events in one transaction; for each, whether it was new (not a duplicate)."""
        received = time.time() if now is None else now
        fresh: list[bool] = []
        with self._transaction():
            for e in events:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO events (store, delivery_id, event, received_at, payload)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (e.store, e.delivery_id, e.event, received, e.payload),
                )
                fresh.append(cursor.rowcount == 1)
        return fresh

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken before reading so writers queue instead of failing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def read_after(self, seq: int, limit: int = 50_000) -> list[QueuedEvent]:
        """Events stored after ``seq``, oldest first.

        A tick's memory is its events' few fields, not their payloads (up to 1 MiB each):
        SQLite reads ``data.created_at`` out of each. A payload only Python reads as JSON
        (a ``NaN`` in it) is handed over whole, for Python to read the field. Of a key written
        twice in one object (which JSON leaves undefined and PHP cannot write) SQLite reads
        the first, Python the last.
        """
        self._db.text_factory = bytes  # decoded below: a lone surrogate escape must not fail
        try:
            rows = self._db.execute(
                "SELECT seq, store, delivery_id, event, received_at, "
                "CASE WHEN json_valid(payload) THEN "
                "CASE json_type(payload, '$.data.created_at') "
                "WHEN 'text' THEN json_extract(payload, '$.data.created_at') END END, "
                "CASE WHEN json_valid(payload) THEN NULL ELSE payload END "
                "FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        finally:
            self._db.text_factory = str
        return [
            QueuedEvent(
                number,
                store.decode(),
                delivery_id.decode(),
                event.decode(),
                received_at,
                _text(created_at) if odd is None else _created_at(odd.decode()),
            )
            for number, store, delivery_id, event, received_at, created_at, odd in rows
        ]

    def dead_letter(
        self, entries: Iterable[tuple[QueuedEvent, str]], *, now: float | None = None
    ) -> None:
        """Records events that could not be mapped to a partition, with the reason (idempotent).

        Each is kept ``retention_days`` from now (see :meth:`prune`), however long it waited in
        the queue: time to requeue it.
        """
        dead_at = time.time() if now is None else now
        rows = [(reason, dead_at, e.seq) for e, reason in entries]
        if rows:
            with self._transaction():
                self._db.executemany(
                    "INSERT OR REPLACE INTO dead_letters (seq, store, delivery_id, event, "
                    "received_at, reason, payload, dead_at) SELECT seq, store, delivery_id, "
                    "event, received_at, ?, payload, ? FROM events WHERE seq = ?",
                    rows,
                )

    def dead_letters(self, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
        """The newest dead letters: ``(seq, store, delivery_id, event, reason)``."""
        return self._db.execute(
            "SELECT seq, store, delivery_id, event, reason FROM dead_letters "
            "ORDER BY seq DESC LIMIT ?",
            (limit,),
        ).fetchall()

    def last_seq(self) -> int:
        """The highest ``seq`` this file ever gave, pruned or not (0 for a new queue)."""
        try:
            row = self._db.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
            ).fetchone()
        except sqlite3.OperationalError:  # no AUTOINCREMENT row was ever written
            return 0
        return int(row[0]) if row else 0

    def requeue(self, stores: Collection[str], reason_end: str) -> int:
        """Moves dead letters of ``stores`` back into the events; returns how many.

        Those whose reason ends with ``reason_end`` go after every event stored so far, so
        that a reader whose cursor passed them reads them again.
        """
        with self._transaction():
            rows = [
                row
                for row in self._db.execute(
                    "SELECT seq, store, delivery_id, event, received_at, payload "
                    "FROM dead_letters WHERE reason LIKE ?",
                    ("%" + reason_end.replace("%", ""),),
                ).fetchall()
                if row[1] in stores
            ]
            for seq, store, delivery_id, event, received_at, payload in rows:
                self._db.execute(
                    "DELETE FROM events WHERE store = ? AND delivery_id = ?", (store, delivery_id)
                )
                self._db.execute(
                    "INSERT INTO events (store, delivery_id, event, received_at, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (store, delivery_id, event, received_at, payload),
                )
                self._db.execute("DELETE FROM dead_letters WHERE seq = ?", (seq,))
        return len(rows)

    def prune(
        self, retention_days: float, *, read_up_to: int | None = None, now: float | None = None
    ) -> int:
        """Deletes what is over ``retention_days`` old; returns how many.

        An event's age counts from its arrival, a dead letter's from when it became one.

        With ``read_up_to``, only events up to that ``seq`` (those a reader has passed) go,
        however old the others are.
        """
        cutoff = (time.time() if now is None else now) - retention_days * 86400
        with self._transaction():
            gone = self._db.execute(
                "DELETE FROM events WHERE received_at < ? AND seq <= ?",
                (cutoff, read_up_to if read_up_to is not None else 2**63 - 1),
            ).rowcount
            gone += self._db.execute(
                # dead_at is NULL in rows a queue file of an older version dead-lettered
                "DELETE FROM dead_letters WHERE coalesce(dead_at, received_at) < ?",
                (cutoff,),
            ).rowcount
        return gone

    def count(self) -> int:
        [(n,)] = self._db.execute("SELECT count(*) FROM events").fetchall()
        return int(n)

    def delivery_ids(self) -> set[tuple[str, str]]:
        return set(self._db.execute("SELECT store, delivery_id FROM events").fetchall())


def _text(value: bytes | None) -> str | None:
    """SQLite's text as a string; a lone surrogate (from a JSON escape) as U+FFFD."""
    return None if value is None else value.decode("utf-8", errors="replace")


def _created_at(payload: str) -> str | None:
    """``data.created_at`` of a payload SQLite does not read as JSON, if it is a string."""
    try:
        data = json.loads(payload).get("data")
        value = data.get("created_at") if isinstance(data, dict) else None
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) else None
