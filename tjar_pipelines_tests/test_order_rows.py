"""The lake's bulk path (DuckDB over the spool) gives exactly the rows of the Python records.

The reference is ``Order.from_api`` + ``orders_table`` on the JSON the lake keeps in ``raw``.
Random payloads mix the shapes Tjar sends with ones it should not (floats as identifiers,
"1e3" as a price, Arabic-Indic digits, huge integers, whitespace of every kind), so both the
SQL and its hand-over to Python for unusual orders are exercised.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tjar_pipelines.client import Order
from tjar_pipelines.client.pagination import parse_page
from tjar_pipelines.client.raw_records import RawRecord, decode_list_body
from tjar_pipelines.client.records import order_instants
from tjar_pipelines.client.retrying import loads
from tjar_pipelines.lake.spool import OrderSpool
from tjar_pipelines.lake.tables import ORDER_ITEMS, ORDERS, orders_table, raw_json

SYNCED = dt.datetime(2026, 5, 10, 12, tzinfo=dt.UTC)
DAYS = (dt.date(2026, 5, 1), dt.date(2026, 5, 2))
ZONE = "America/New_York"

whitespace = st.sampled_from([" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1f", "\u200b"])
amount_texts = st.builds(
    lambda sign, whole, frac, pad: f"{pad}{sign}{whole}{frac}{pad}",
    st.sampled_from(["", "-", "+"]),
    st.sampled_from(["0", "12", "1,234", "00012", "999999999999999", "1234567890123456", "٣٤"]),
    st.sampled_from(["", ".5", ".50", ".505", ".", "e3"]),
    st.sampled_from(["", " ", "\u00a0"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(2**33), max_value=2**33),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-(10**14), max_value=10**14, places=2).map(float),
    st.text(max_size=12),
    st.builds(lambda w, t: w + t + w, whitespace, st.text(max_size=6)),
    amount_texts,
    st.sampled_from(["true", "FALSE", " yes ", "no", "1", "0", "İ", "-0", "+7", "1_000", "NaN"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["value", "en", "ar", "x"]), children, max_size=3)
    ),
    max_leaves=8,
)
ORDER_KEYS = [
    "id", "order_id", "status", "payment_status", "payment_gateway", "total_amount", "coupon",
    "coupon_discounted", "customer", "name", "email", "phone", "country", "city",
    "transaction_id", "created_at", "updated_at",
]  # fmt: skip
ITEM_KEYS = [
    "product_id", "id", "name", "qty", "price", "discount", "tax", "subtotal", "weight", "type",
    "type_label", "is_booking", "options",
]  # fmt: skip
customers = st.dictionaries(st.sampled_from(["id", "name", "email", "mobile"]), json_values)
options = st.dictionaries(st.sampled_from(["is_booking", "product_options_cost"]), json_values)
items = st.dictionaries(st.sampled_from(ITEM_KEYS), json_values, max_size=8).flatmap(
    lambda item: st.fixed_dictionaries({"options": options} if "options" in item else {}).map(
        lambda extra: {**item, **extra}
    )
)
orders = st.tuples(
    st.dictionaries(st.sampled_from(ORDER_KEYS), json_values, max_size=10),
    customers,
    st.lists(st.one_of(items, json_values), max_size=3),
    st.sampled_from(DAYS),
)


Payloads = list[tuple[dict[str, Any], dt.date]]


def spooled_rows(
    payloads: Sequence[tuple[dict[str, Any] | RawRecord, dt.date]],
    folder: Path,
    days: Sequence[dt.date] = DAYS,
    **options: Any,
) -> tuple[dict[dt.date, tuple[pa.Table, pa.Table]], OrderSpool]:
    """Each day's rows of ``payloads`` through a spool (discarded after), and the spool."""
    spool = OrderSpool(folder, "acme", ZONE, SYNCED, **options)
    try:
        for payload, day in payloads:
            record = (
                payload
                if isinstance(payload, RawRecord)
                else RawRecord.of(payload, store="acme", kind="order")
            )
            spool.add(record, *order_instants(record.head, ZONE), day)
        tables = {day: whole_day(spool, day) for day in days}
    finally:
        spool.discard()
    return tables, spool


def whole_day(spool: OrderSpool, day: dt.date) -> tuple[pa.Table, pa.Table]:
    orders, items = spool.day(day)
    return (
        pa.concat_tables([ORDERS.empty_table(), *orders]),
        pa.concat_tables([ORDER_ITEMS.empty_table(), *items]),
    )


def python_rows(payloads: list[tuple[dict[str, Any], dt.date]], day: dt.date):
    parsed = [
        replace(
            Order.from_api(
                loads(raw_json(p, store="acme", record="order").encode()),
                store="acme",
                timezone=ZONE,
            ),
            order_date=d,
        )
        for p, d in payloads
        if d == day
    ]
    return orders_table(parsed, SYNCED)


def by_key(table: pa.Table, *key: str) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: tuple(row[k] for k in key))


def items_by_key(table: pa.Table) -> list[dict[str, Any]]:
    """``order_items`` rows by order and line, each ``raw`` read as JSON.

    DuckDB cuts the lines out of the order's JSON and writes them itself: the same JSON as
    orjson's, with some numbers and escapes spelled differently (``1e16``, ``\\u001F``).
    """
    rows = by_key(table, "order_identifier", "line_number")
    return [{**row, "raw": json.loads(row["raw"])} for row in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(orders, min_size=1, max_size=6))
def test_bulk_rows_equal_the_python_records(drawn):
    payloads = []
    for n, (fields, customer, lines, day) in enumerate(drawn):
        payload = {**fields, "identifier": 1000 + n, "order_details": lines}
        if customer:
            payload["customer"] = customer
        # As the client hands them over: parsed from the page's bytes.
        payloads.append((loads(raw_json(payload, store="acme", record="order").encode()), day))
    with tempfile.TemporaryDirectory() as folder:
        bulk, _ = spooled_rows(payloads, Path(folder), batch_rows=3)
        assert not list(Path(folder).iterdir()), "the spool leaves nothing behind"
    for day in DAYS:
        got_orders, got_items = bulk[day]
        want_orders, want_items = python_rows(payloads, day)
        assert got_orders.schema == want_orders.schema
        assert by_key(got_orders, "identifier") == by_key(want_orders, "identifier")
        assert got_items.schema == want_items.schema
        assert items_by_key(got_items) == items_by_key(want_items)


def test_days_read_in_any_order_and_any_cache_size_give_the_same_rows(monkeypatch, tmp_path):
    from tjar_pipelines.lake import spool as spool_module

    days = [dt.date(2026, 5, d) for d in range(1, 6)]
    payloads = [
        (
            {
                "identifier": n,
                # Arabic digits: an order the Python records parse, not the SQL.
                "total_amount": "٣٤" if n % 7 == 0 else 10.5 + n,
                "order_details": [{"id": n, "qty": 1 + n % 3}],
            },
            days[(n * 3) % len(days)],  # every batch holds several days
        )
        for n in range(40)
    ]
    want, _ = spooled_rows(payloads, tmp_path / "in-order", days, batch_rows=6)
    monkeypatch.setattr(spool_module, "DECODED_BYTES", 1)  # only the file in use stays decoded
    got, spool = spooled_rows(payloads, tmp_path / "reversed", days[::-1], batch_rows=6)
    assert spool.parsed_in_python == 6
    for day in days:
        assert by_key(got[day][0], "identifier") == by_key(want[day][0], "identifier")
        key = ("order_identifier", "line_number")
        assert by_key(got[day][1], *key) == by_key(want[day][1], *key)
        python_orders, _ = python_rows(payloads, day)
        assert by_key(got[day][0], "identifier") == by_key(python_orders, "identifier")


def test_orders_as_tjar_sends_them_take_the_sql_path(simulator, tmp_path):
    from tjar_pipelines_tests.conftest import sim_client

    server = simulator()
    day = dt.date(2026, 5, 10)
    with sim_client(server) as client:
        records = list(client.iter_order_records(day - dt.timedelta(days=19), day))
    assert len(records) > 100
    tables, spool = spooled_rows([(r, day) for r in records], tmp_path, [day])
    got_orders, got_items = tables[day]
    assert spool.parsed_in_python == 0
    assert not spool._unusual_batches, "no batch file was read again for unusual orders"
    assert got_orders["raw"].to_pylist() == [r.json.decode() for r in records]
    want_orders, want_items = python_rows([(loads(r.json), day) for r in records], day)
    assert by_key(got_orders, "identifier") == by_key(want_orders, "identifier")
    assert items_by_key(got_items) == items_by_key(want_items)


def test_every_order_keeps_the_json_the_store_sent(tmp_path):
    body = (
        b'{"data": {"orders": [\n'
        b'  {"identifier": 1, "total_amount": 10.50, "name": "\\u0644"},\n'
        b'  {"identifier": 2, "total_amount": "1e3", "name": "\\u0644"}\n]}}'
    )
    records = parse_page(decode_list_body(body, "orders", store="acme"), "orders").items
    tables, spool = spooled_rows([(r, DAYS[0]) for r in records], tmp_path)
    got_orders, _ = tables[DAYS[0]]
    assert spool.parsed_in_python == 1  # the unusual one too
    assert sorted(got_orders["raw"].to_pylist()) == [
        '{"identifier": 1, "total_amount": 10.50, "name": "\\u0644"}',
        '{"identifier": 2, "total_amount": "1e3", "name": "\\u0644"}',
    ]


def test_a_batch_duckdb_cannot_hold_is_built_by_python(monkeypatch, tmp_path):
    import duckdb

    copy = OrderSpool._copy

    def out_of_memory_when_done(*args: Any) -> None:
        copy(*args)  # DuckDB wrote the batch's files, then ran out: none may count twice
        raise duckdb.OutOfMemoryException("could not allocate block")

    monkeypatch.setattr(OrderSpool, "_copy", out_of_memory_when_done)
    payloads = [
        ({"identifier": n, "total_amount": 10.5, "order_details": [{"id": 7, "qty": 2}]}, DAYS[0])
        for n in range(5)
    ]
    tables, _ = spooled_rows(payloads, tmp_path, batch_rows=2)
    got_orders, got_items = tables[DAYS[0]]
    want_orders, want_items = python_rows(payloads, DAYS[0])
    assert by_key(got_orders, "identifier") == by_key(want_orders, "identifier")
    assert items_by_key(got_items) == items_by_key(want_items)
    # and the orders' JSON stays as the store sent it
    body = b'{"data": [{"identifier": 9, "total_amount": 10.50, "name": "\\u0644"}]}'
    records = parse_page(decode_list_body(body, "orders", store="acme"), "orders").items
    tables, _ = spooled_rows([(r, DAYS[0]) for r in records], tmp_path)
    assert tables[DAYS[0]][0]["raw"].to_pylist() == [records[0].json.decode()]


def test_a_spool_removed_under_a_running_sync_fails_instead_of_writing_nothing(tmp_path):
    import shutil

    import pytest

    payload = {"identifier": 1, "order_details": []}
    spool = OrderSpool(tmp_path, "acme", ZONE, SYNCED)
    try:
        spool.add(
            RawRecord.of(payload, store="acme", kind="order"),
            *order_instants(payload, ZONE),
            DAYS[0],
        )
        whole_day(spool, DAYS[1])  # the rows are built
        shutil.rmtree(spool.folder)
        with pytest.raises(RuntimeError, match=r"store acme: the spool .* is gone"):
            whole_day(spool, DAYS[0])
    finally:
        spool.discard()


def test_an_unusual_order_is_parsed_by_python_and_counted_once(tmp_path):
    usual = {"identifier": 1, "total_amount": 10.5, "order_details": [{"id": 7, "qty": 1}]}
    unusual = {"identifier": 2, "total_amount": "1e3", "order_details": [{"id": 8, "qty": 2}]}
    payloads = [(usual, DAYS[0]), (unusual, DAYS[0])]
    tables, spool = spooled_rows(payloads, tmp_path)
    got_orders, got_items = tables[DAYS[0]]
    assert spool.parsed_in_python == 1
    want_orders, want_items = python_rows(payloads, DAYS[0])
    assert by_key(got_orders, "identifier") == by_key(want_orders, "identifier")
    assert items_by_key(got_items) == items_by_key(want_items)


def test_lines_are_the_objects_of_order_details_numbered_by_their_place(tmp_path):
    shapes = [
        [{"id": 1, "qty": 2}, 7, "x", None, [{"id": 9}], {"id": 2, "note": 1e16}],
        {"id": 3},  # an object, not a list: no lines
        "not a list",
        None,
        [],
    ]
    payloads = [
        ({"identifier": n, "total_amount": 5, "order_details": shape}, DAYS[0])
        for n, shape in enumerate(shapes, start=1)
    ]
    tables, spool = spooled_rows(payloads, tmp_path)
    got_orders, got_items = tables[DAYS[0]]
    assert spool.parsed_in_python == 0
    counts = {row["identifier"]: row["item_count"] for row in got_orders.to_pylist()}
    assert counts == {"1": 2, "2": 0, "3": 0, "4": 0, "5": 0}
    lines = [(r["order_identifier"], r["line_number"]) for r in items_by_key(got_items)]
    assert lines == [("1", 1), ("1", 6)]
    want_orders, want_items = python_rows(payloads, DAYS[0])
    assert by_key(got_orders, "identifier") == by_key(want_orders, "identifier")
    assert items_by_key(got_items) == items_by_key(want_items)


def test_nan_in_an_order_written_by_the_fallback_is_null_in_every_raw(tmp_path):
    # orjson refuses NaN, so the client reads this body with the standard library, which keeps
    # 2**70 an int; orjson refuses that in turn, so the standard library writes the raw JSON.
    body = b'{"identifier": 1, "ref": 1180591620717411303424, "order_details": [{"note": NaN}]}'
    payload = loads(body)
    tables, spool = spooled_rows([(payload, DAYS[0])], tmp_path)
    got_orders, got_items = tables[DAYS[0]]
    assert spool.parsed_in_python == 0
    raw = got_orders["raw"][0].as_py()
    assert "NaN" not in raw and json.loads(raw)["ref"] == 2**70
    assert items_by_key(got_items)[0]["raw"] == {"note": None}
    _, want_items = python_rows([(payload, DAYS[0])], DAYS[0])
    assert items_by_key(got_items) == items_by_key(want_items)


def test_the_sql_trims_exactly_what_str_strip_removes():
    import sys

    from tjar_pipelines.lake.order_rows import WHITESPACE

    assert WHITESPACE == "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


def test_batches_are_built_at_a_lower_cpu_priority_than_the_reads(monkeypatch, tmp_path):
    import os
    import sys
    import threading

    import pytest

    from tjar_pipelines.lake import spool as spool_module

    if sys.platform != "linux":
        pytest.skip("threads have their own niceness on Linux only")

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    copy = OrderSpool._copy

    def noting_priority(*args: Any) -> None:
        seen.append(niceness())
        copy(*args)

    monkeypatch.setattr(OrderSpool, "_copy", noting_priority)
    before = niceness()
    if before >= 19:
        pytest.skip("the tests already run at the lowest priority")
    payloads = [({"identifier": n, "order_details": []}, DAYS[0]) for n in range(3)]
    tables, _ = spooled_rows(payloads, tmp_path, batch_rows=2)
    assert tables[DAYS[0]][0].num_rows == 3
    assert seen == [min(19, before + spool_module.BUILD_NICENESS)] * 2
    assert niceness() == before  # the reading thread keeps its priority


def test_a_batch_read_in_several_chunks_gives_each_row_once(monkeypatch, tmp_path):
    """DuckDB reads a batch in chunks (for its memory: measured, not asserted): rows stay right."""
    from tjar_pipelines.lake import spool as spool_module

    monkeypatch.setattr(spool_module, "CHUNK_ROWS", 7)  # 50 orders: 8 chunks, the last short
    payloads = [
        (
            {
                "identifier": n,
                "total_amount": f"{n}.25",
                "order_details": [{"id": line, "qty": n} for line in range(n % 3)],
            },
            DAYS[n % 2],
        )
        for n in range(50)
    ]
    tables, spool = spooled_rows(payloads, tmp_path, batch_rows=50)
    assert spool.parsed_in_python == 0
    for day in DAYS:
        got_orders, got_items = tables[day]
        want_orders, want_items = python_rows(payloads, day)
        assert got_orders.num_rows == 25
        assert by_key(got_orders, "identifier") == by_key(want_orders, "identifier")
        assert items_by_key(got_items) == items_by_key(want_items)
