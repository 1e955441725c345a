"""Property tests: whatever Tjar sends, parsing fails only with its typed error; signatures and
the queue hold for any input."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tjar_pipelines.client import Order, Product
from tjar_pipelines.lake.tables import orders_table, products_table
from tjar_pipelines.webhooks.queue import NewEvent, WebhookQueue
from tjar_pipelines.webhooks.signature import SignatureScheme

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "15.50",
            "1e999999",
            "-0",
            "NaN",
            "2026-05-10 23:59:59",
            "0001-01-01 00:00:00",
            "9999-12-31T23:59:59+14:00",
            "٣٤",
            "",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = [
    "id",
    "identifier",
    "order_id",
    "status",
    "payment_status",
    "payment_gateway",
    "total_amount",
    "coupon",
    "coupon_discounted",
    "customer",
    "country",
    "city",
    "created_at",
    "updated_at",
    "order_details",
    "name",
    "price",
    "sale_price",
    "stock",
    "is_unlimited",
    "is_published",
    "type_id",
    "qty",
    "subtotal",
    "options",
]
payloads = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=12)
line_items = st.lists(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8), max_size=3)
NOW = dt.datetime(2026, 5, 10, tzinfo=dt.UTC)


@settings(max_examples=300, deadline=None)
@given(payloads, line_items)
def test_order_parsing_fails_only_with_its_typed_error(payload, lines):
    payload = {**payload, "order_details": lines} if lines else payload
    try:
        order = Order.from_api(payload, store="acme", timezone="Asia/Riyadh")
    except ValueError as exc:
        assert "identifier" in str(exc)
        return
    orders_t, items_t = orders_table([order], NOW)  # and the lake takes whatever parsed
    assert orders_t.num_rows == 1 and items_t.num_rows == len(order.items)


@settings(max_examples=300, deadline=None)
@given(payloads, st.sampled_from(["en", "ar"]))
def test_product_parsing_fails_only_with_its_typed_error(payload, language):
    try:
        product = Product.from_api(
            payload, store="acme", timezone="Africa/Cairo", language=language
        )
    except ValueError as exc:
        assert "identifier" in str(exc)
        return
    assert products_table([product], NOW).num_rows == 1


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=1, max_size=300),
    st.text(min_size=1, max_size=40),
    st.integers(min_value=0),
    st.integers(min_value=1, max_value=255),
    st.sampled_from([SignatureScheme(), SignatureScheme(prefix="", encoding="base64")]),
)
def test_any_change_to_body_or_signature_is_rejected(body, secret, position, flip, scheme):
    signature = scheme.sign(secret, body)
    assert scheme.verify(secret, body, signature)
    changed = bytearray(body)
    changed[position % len(body)] ^= flip
    assert not scheme.verify(secret, bytes(changed), signature)
    wrong = list(signature)
    index = len(scheme.prefix) + position % (len(signature) - len(scheme.prefix))
    wrong[index] = "0" if wrong[index] != "0" else "1"
    assert not scheme.verify(secret, body, "".join(wrong))


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("append"),
            st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 20)), max_size=5),
        ),
        st.tuples(st.just("read"), st.integers(1, 7)),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations)
def test_queue_interleavings_lose_and_duplicate_nothing(ops):
    with tempfile.TemporaryDirectory() as tmp, WebhookQueue(Path(tmp) / "q.sqlite3") as queue:
        appended: set[tuple[str, str]] = set()
        read: list[tuple[str, str]] = []
        cursor = 0
        for op, arg in ops:
            if op == "append":
                events = [NewEvent(store, str(n), "order.created", "{}") for store, n in arg]
                fresh = queue.append(events)
                for event, new in zip(events, fresh, strict=True):
                    key = (event.store, event.delivery_id)
                    assert new == (key not in appended)
                    appended.add(key)
            else:
                batch = queue.read_after(cursor, limit=arg)
                read += [(e.store, e.delivery_id) for e in batch]
                cursor = batch[-1].seq if batch else cursor
        read += [(e.store, e.delivery_id) for e in queue.read_after(cursor)]
        assert len(read) == len(set(read)) and set(read) == appended
