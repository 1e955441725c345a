"""The durable queue and the event → partition routing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from tjar_pipelines.stores import parse_registry
from tjar_pipelines.webhooks.queue import NewEvent, QueuedEvent, WebhookQueue
from tjar_pipelines.webhooks.routing import Target, route
from tjar_pipelines.webhooks.signature import SignatureScheme

REGISTRY = parse_registry(
    {
        "stores": [
            {
                "slug": "acme",
                "domain": "a.sa",
                "api_key_env": "A",
                "timezone": "Asia/Riyadh",
                "start_date": "2026-01-01",
            },
            {
                "slug": "ny",
                "domain": "n.sa",
                "api_key_env": "N",
                "timezone": "America/New_York",
                "start_date": "2026-01-01",
            },
        ]
    }
)


def event(
    seq: int, store: str, name: str, created_at: str | None = "2026-05-09 23:59:59"
) -> QueuedEvent:
    return QueuedEvent(seq, store, f"d{seq}", name, 0.0, created_at)


def test_signatures():
    body = b'{"a":1}'
    for scheme in (SignatureScheme(), SignatureScheme(prefix="", encoding="base64")):
        good = scheme.sign("s", body)
        assert scheme.verify("s", body, good) and scheme.verify("s", body, f" {good} ")
        assert not scheme.verify("t", body, good) and not scheme.verify("s", body + b" ", good)
        assert not scheme.verify("s", body, None) and not scheme.verify("s", body, "")
    assert SignatureScheme().sign("s", body).startswith("sha256=")
    assert SignatureScheme().verify(
        "s", body, SignatureScheme().sign("s", body).upper().replace("SHA256=", "sha256=")
    )


def test_append_dedupes_and_reads_in_order(tmp_path):
    with WebhookQueue(tmp_path / "q.sqlite3") as queue:
        fresh = queue.append(
            [NewEvent("acme", "1", "order.created", "{}"), NewEvent("acme", "2", "x", "{}")]
        )
        again = queue.append(
            [NewEvent("acme", "1", "order.created", "{}"), NewEvent("zen", "1", "x", "{}")]
        )
        assert fresh == [True, True] and again == [False, True]
        events = queue.read_after(0)
        assert [(e.store, e.delivery_id) for e in events] == [
            ("acme", "1"),
            ("acme", "2"),
            ("zen", "1"),
        ]
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs)  # increasing; an ignored duplicate may leave a gap
        assert [e.delivery_id for e in queue.read_after(seqs[1])] == ["1"]


def test_a_tick_reads_each_event_s_created_at_not_its_payload(tmp_path):
    """Whatever JSON Python takes (a NaN, a lone surrogate escape, created_at of another
    type or nowhere), the field is read as Python reads it (a lone surrogate as U+FFFD, which
    makes it unreadable all the same), and the payload stays on disk
    until it goes to the dead letters whole."""
    payloads = {
        "plain": {"data": {"created_at": "2026-05-09 23:59:59", "note": "x" * 100_000}},
        "number": {"data": {"created_at": 5}},
        "none": {"data": {"identifier": 1}},
        "list": {"data": [1]},
    }
    odd = {
        "nan": '{"data": {"created_at": "2026-05-09 10:00:00", "total": NaN}}',
        "surrogate": '{"data": {"created_at": "2026-05-09 \\ud800"}}',
    }
    texts = {name: json.dumps(p) for name, p in payloads.items()} | odd
    with WebhookQueue(tmp_path / "q.sqlite3") as queue:
        queue.append([NewEvent("acme", name, "order.created", t) for name, t in texts.items()])
        read = {e.delivery_id: e for e in queue.read_after(0)}
        surrogate = read.pop("surrogate").created_at or ""
        assert surrogate.startswith("2026-05-09 ") and "\ufffd" in surrogate  # unreadable
        assert {name: e.created_at for name, e in read.items()} == {
            "plain": "2026-05-09 23:59:59",
            "number": None,
            "none": None,
            "list": None,
            "nan": "2026-05-09 10:00:00",
        }
        assert not hasattr(read["plain"], "payload")
        queue.dead_letter([(read["plain"], "a reason")])
        [(payload,)] = queue._db.execute("SELECT payload FROM dead_letters").fetchall()
        assert payload == texts["plain"]


def test_retention_and_dead_letters(tmp_path):
    with WebhookQueue(tmp_path / "q.sqlite3") as queue:
        queue.append([NewEvent("acme", "old", "x", "{}")], now=1_000.0)
        queue.append([NewEvent("acme", "new", "x", "{}")], now=1_000.0 + 8 * 86400)
        old = queue.read_after(0)[0]
        queue.dead_letter([(old, "unknown event 'x'")], now=1_000.0)
        queue.dead_letter([(old, "unknown event 'x'")], now=1_000.0)
        assert queue.dead_letters() == [(1, "acme", "old", "x", "unknown event 'x'")]
        assert queue.prune(7, now=1_000.0 + 8 * 86400) == 2
        assert [e.delivery_id for e in queue.read_after(0)] == [
            "new"
        ] and queue.dead_letters() == []


def test_a_dead_letter_is_kept_the_retention_from_when_it_became_one(tmp_path):
    """An event that waited in the queue longer than the retention (the sensor was off) and
    then went to the dead letters stays there the whole retention, time to requeue it."""
    day = 86400
    with WebhookQueue(tmp_path / "q.sqlite3") as queue:
        queue.append([NewEvent("acme", "d1", "x", "{}")], now=1_000.0)
        queue.dead_letter([(queue.read_after(0)[0], "unknown event 'x'")], now=1_000.0 + 8 * day)
        queue.prune(7, now=1_000.0 + 8 * day)
        assert [row[2] for row in queue.dead_letters()] == ["d1"]
        queue.prune(7, now=1_000.0 + 14 * day)
        assert [row[2] for row in queue.dead_letters()] == ["d1"]
        assert queue.prune(7, now=1_000.0 + 15.1 * day) == 1
        assert queue.dead_letters() == []


def test_a_queue_file_of_an_older_version_gets_the_dead_at_column(tmp_path):
    """Its dead letters, which have no time of their own, go by when they arrived."""
    import sqlite3

    path = tmp_path / "q.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE dead_letters (seq INTEGER PRIMARY KEY, store TEXT NOT NULL,
            delivery_id TEXT NOT NULL, event TEXT NOT NULL, received_at REAL NOT NULL,
            reason TEXT NOT NULL, payload TEXT NOT NULL);
        INSERT INTO dead_letters VALUES (1, 'acme', 'old', 'x', 1000.0, 'unknown event', '{}');
        INSERT INTO dead_letters VALUES (2, 'acme', 'new', 'x', 900000.0, 'unknown event', '{}');
        """
    )
    db.commit()
    db.close()
    with WebhookQueue(path) as queue, WebhookQueue(path) as again:
        assert queue.prune(7, now=1_000.0 + 8 * 86400) == 1
        assert [row[2] for row in again.dead_letters()] == ["new"]


def test_pruning_keeps_old_events_no_reader_has_passed(tmp_path):
    """A backlog older than the retention, beyond what the sensor has read, stays."""
    with WebhookQueue(tmp_path / "q.sqlite3") as queue:
        queue.append([NewEvent("acme", str(n), "x", "{}") for n in range(5)], now=1_000.0)
        assert queue.prune(7, read_up_to=2, now=1_000.0 + 8 * 86400) == 2
        assert [e.seq for e in queue.read_after(0)] == [3, 4, 5]
        assert queue.last_seq() == 5  # pruned or not, a seq is never given twice


def test_requeue_moves_dead_letters_of_known_stores_back_after_the_last_event(tmp_path):
    with WebhookQueue(tmp_path / "q.sqlite3") as queue:
        assert queue.last_seq() == 0
        queue.append([NewEvent(s, "d1", "order.created", "{}") for s in ("new", "gone")])
        queue.append([NewEvent("acme", "d2", "x", "{}")])
        queue.dead_letter(
            [(e, f"store {e.store!r} is not in the registry") for e in queue.read_after(0)[:2]]
            + [(queue.read_after(2)[0], "unknown event 'x'")]
        )
        assert queue.requeue({"new", "acme"}, "is not in the registry") == 1
        assert queue.requeue({"new", "acme"}, "is not in the registry") == 0
        assert [(e.seq, e.store) for e in queue.read_after(3)] == [(4, "new")]
        assert {r[1] for r in queue.dead_letters()} == {"gone", "acme"}
        assert queue.count() == 3  # moved, not copied


WRITER = """
import sys
from tjar_pipelines.webhooks.queue import NewEvent, WebhookQueue
with WebhookQueue(sys.argv[1]) as queue:
    for n in range(300):
        queue.append([NewEvent("acme", f"{sys.argv[2]}-{n}", "order.created", "{}")])
"""


def test_concurrent_writer_processes_lose_nothing(tmp_path):
    path = tmp_path / "q.sqlite3"
    WebhookQueue(path).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in "ab"]
    try:
        assert [w.wait(timeout=120) for w in writers] == [0, 0]
    finally:
        for w in writers:
            w.kill()
    with WebhookQueue(path) as queue:
        assert queue.count() == 600
        seqs = [e.seq for e in queue.read_after(0)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 600


def test_routing_maps_and_coalesces():
    events = [
        event(1, "acme", "order.created"),
        event(2, "acme", "order.status.updated"),
        event(3, "ny", "order.cancelled", "2026-05-09 23:59:59"),
        event(4, "acme", "product.updated"),
        event(5, "acme", "product.deleted"),
        event(6, "acme", "order.updated", "2026-05-10 00:00:00"),
        event(7, "acme", "customer.created"),
        event(8, "acme", "order.updated", None),
        event(9, "gone", "order.created"),
        event(10, "acme", "order.created", "2025-12-31 10:00:00"),
        event(11, "acme", "order.payment_status.updated"),  # undocumented: still an order's
        event(12, "acme", "product.stock.updated"),
    ]
    routing = route(events, REGISTRY)
    targets = {t: (x.first_seq, x.last_seq, x.events) for t, x in routing.targets.items()}
    assert targets == {
        Target("orders", "acme", dt.date(2026, 5, 9)): (1, 11, 3),
        Target("orders", "ny", dt.date(2026, 5, 9)): (3, 3, 1),
        Target("products", "acme"): (4, 12, 3),
        Target("orders", "acme", dt.date(2026, 5, 10)): (6, 6, 1),
    }
    reasons = {e.seq: reason for e, reason in routing.dead}
    assert set(reasons) == {7, 8, 9, 10}
    assert "unknown event" in reasons[7] and "created_at" in reasons[8]
    assert "not in the registry" in reasons[9] and "before start_date" in reasons[10]
    assert routing.last_seq == 12


def test_routing_dead_letters_impossible_days():
    events = [
        event(1, "acme", "order.created", "9999-12-31 23:30:00+00:00"),
        event(2, "acme", "order.created", "2026-05-12 10:00:00"),
        event(3, "acme", "order.created", "2026-05-11 10:00:00"),
    ]
    routing = route(events, REGISTRY, latest_day=dt.date(2026, 5, 11))
    assert {e.seq for e, _ in routing.dead} == {1, 2}
    assert list(routing.targets) == [Target("orders", "acme", dt.date(2026, 5, 11))]
