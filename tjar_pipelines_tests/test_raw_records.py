"""Pages read for bulk loads give the same records as pages decoded whole, in every shape."""

from __future__ import annotations

import datetime as dt
import gc
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tjar_pipelines.client.pagination import PageShapeError, parse_page
from tjar_pipelines.client.raw_records import RawRecord, decode_list_body
from tjar_pipelines.client.records import order_instants, order_line_count, record_identifier
from tjar_pipelines.client.retrying import decode_object, loads
from tjar_pipelines_tests.conftest import sim_client, sim_config

ZONE = "Asia/Riyadh"
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-(2**63) - 1, -(2**63), 2**64 - 1, 2**64]),  # orjson's edges
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["2026-05-10 12:00:00", "2026-05-10T09:00:00+03:00", "١٢", " 7 "]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
fields = st.sampled_from(["identifier", "id", "created_at", "updated_at", "order_details", "x"])
orders = st.dictionaries(fields | st.text(max_size=5), values, max_size=6)
# Each order also gets lines of mixed shapes, as order_details (objects, non-objects, nesting).
lines = st.lists(st.one_of(st.dictionaries(st.text(max_size=3), scalars), values), max_size=4)


def _envelope(shape: str, records: list[Any]) -> dict[str, Any]:
    meta = {"current_page": 1, "last_page": 3, "per_page": 100, "total": 250}
    if shape == "data.orders":
        return {"status": "success", "data": {"orders": records, "pagination": meta}}
    if shape == "data list":
        return {"data": records, "meta": meta, "links": {"next": "x"}}
    return {"orders": records, "pagination": meta}


def _written(body: dict[str, Any], style: str) -> bytes:
    """The body as a store may write it: compact UTF-8, indented, or with escaped non-ASCII."""
    if style == "compact":
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(body, indent=2 if style == "indented" else None, ensure_ascii=True).encode()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(orders, lines, st.booleans()), max_size=5),
    st.sampled_from(["data.orders", "data list", "top level"]),
    st.sampled_from(["compact", "indented", "ascii"]),
)
def test_records_match_the_page_decoded_whole(generated, shape, style):
    records = [{**order, "order_details": ls} if add else order for order, ls, add in generated]
    content = _written(_envelope(shape, records), style)
    whole = parse_page(decode_object(content), "orders")
    raw = parse_page(decode_list_body(content, "orders", store="acme"), "orders")
    assert (raw.current_page, raw.last_page, raw.per_page, raw.total, raw.has_next) == (
        whole.current_page, whole.last_page, whole.per_page, whole.total, whole.has_next,
    )  # fmt: skip
    assert len(raw.items) == len(whole.items)
    for record, item in zip(raw.items, whole.items, strict=True):
        assert isinstance(record, RawRecord)
        assert loads(record.json) == item
        assert record.identifier == record_identifier(item)
        assert order_instants(record.head, ZONE) == order_instants(item, ZONE)
        assert record.line_count == order_line_count(item)


def test_a_record_keeps_the_json_the_store_sent():
    content = b'{"data": {"orders": [ {"identifier" : 7,\n "name": "\\u0644", "total": 1.50} ]}}'
    [record] = parse_page(decode_list_body(content, "orders", store="acme"), "orders").items
    assert record.json == b'{"identifier" : 7,\n "name": "\\u0644", "total": 1.50}'
    assert record.identifier == "7"


def test_a_page_msgspec_refuses_is_decoded_whole_and_written_strict():
    # NaN is not JSON; the standard library reads it, and the record's JSON says null.
    content = b'{"data": {"orders": [{"identifier": 1, "note": NaN, "order_details": [{}]}]}}'
    [record] = parse_page(decode_list_body(content, "orders", store="acme"), "orders").items
    assert json.loads(record.json) == {"identifier": 1, "note": None, "order_details": [{}]}
    assert (record.identifier, record.line_count) == ("1", 1)


def test_a_number_beyond_a_double_in_a_field_read_here_is_read_as_before():
    content = b'{"data": {"orders": [{"identifier": 1, "updated_at": 1e400, "n": 1e400}]}}'
    [record] = parse_page(decode_list_body(content, "orders", store="acme"), "orders").items
    [item] = parse_page(decode_object(content), "orders").items
    assert record.identifier == "1" and order_instants(record.head, ZONE) == (None, None)
    assert loads(record.json) == {**item, "updated_at": None, "n": None}  # written as null


def test_lines_msgspec_cannot_decode_leave_the_page_as_the_store_sent_it():
    content = (
        b'{"data": [{"identifier": 1, "total": 1.50}, {"identifier": 2, "order_details": 1e400},'
        b' {"identifier": 3, "order_details": [1e400, {}, {"a": 1}]}]}'
    )
    records = parse_page(decode_list_body(content, "orders", store="acme"), "orders").items
    assert [r.json for r in records] == [
        b'{"identifier": 1, "total": 1.50}',
        b'{"identifier": 2, "order_details": 1e400}',
        b'{"identifier": 3, "order_details": [1e400, {}, {"a": 1}]}',
    ]
    assert [(r.identifier, r.line_count) for r in records] == [("1", 0), ("2", 0), ("3", 2)]


def test_a_lone_surrogate_is_kept_as_a_replacement_character(caplog):
    content = b'{"data": {"orders": [{"identifier": 1, "city": "a\\ud800b"}]}}'
    [record] = parse_page(decode_list_body(content, "orders", store="acme"), "orders").items
    assert loads(record.json) == {"identifier": 1, "city": "a\ufffdb"}
    assert "store acme: order 1 holds text that is not valid Unicode" in caplog.text


def test_a_lone_surrogate_in_a_record_without_an_identifier_is_reported_as_such(caplog):
    content = b'{"data": {"orders": [{"city": "a\\udc00"}]}}'
    parse_page(decode_list_body(content, "orders", store="acme"), "orders")
    assert "store acme: order without an identifier holds text" in caplog.text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"data": {"orders": [{"identifier": 1, "name": "\xff"}]}}', "utf-8"),
        # among valid Arabic: a surrogate, an overlong form, a cut sequence, beyond U+10FFFF
        *(
            (b'{"data": {"orders": [{"name": "\xd9\x84' + bad + b'"}]}}', "utf-8")
            for bad in (b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82", b"\xf4\x90\x80\x80")
        ),
        (b'[{"identifier": 1}]', "top level is list"),
        (b'{"data": {"orders": [{"identifier": 1}]}} and more', "Extra data"),
        (
            b'{"data": {"orders": [{"identifier": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]}}",
            "nested too deep",
        ),
    ],
)
def test_a_broken_body_is_refused(content, problem):
    with pytest.raises(ValueError, match=problem):
        decode_list_body(content, "orders", store="acme")


def test_items_that_are_not_objects_are_still_refused_by_the_page():
    content = b'{"data": {"orders": [{"identifier": 1}, 2]}}'
    with pytest.raises(PageShapeError, match="something other than objects"):
        parse_page(decode_list_body(content, "orders", store="acme"), "orders")


def test_pages_read_are_freed_without_the_garbage_collector(simulator):
    """httpx keeps each response in a reference cycle: its page must not be held by it."""
    server = simulator(sim_config(max_per_page=20))
    gc.collect()
    gc.disable()
    try:
        with sim_client(server) as client:
            read = list(client.iter_order_records(dt.date(2026, 4, 1), dt.date(2026, 5, 11)))
        holding = [o for o in gc.get_objects() if isinstance(o, httpx.Response) and _has_body(o)]
    finally:
        gc.enable()
    assert len(read) > 100
    assert holding == []


def _has_body(response: httpx.Response) -> bool:
    try:
        return len(response.content) > 1000
    except httpx.ResponseNotRead:
        return False
