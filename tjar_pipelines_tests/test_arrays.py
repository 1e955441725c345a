"""Arrow arrays made through their buffers equal pyarrow's own conversions, and a sync never
imports pandas."""

from __future__ import annotations

import datetime as dt
import decimal
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tjar_pipelines.lake import arrays
from tjar_pipelines.lake.tables import MONEY, ORDERS, TIMESTAMP

UTC_INSTANTS = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
)
ZONED = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.timezones()
)
CASES = [
    (pa.string(), st.text()),
    (pa.binary(), st.binary()),
    (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.float64(), st.one_of(st.floats(allow_nan=False), st.integers(-(2**53), 2**53))),
    (pa.bool_(), st.booleans()),
    (pa.date32(), st.one_of(st.dates(), UTC_INSTANTS)),
    (TIMESTAMP, st.one_of(UTC_INSTANTS, ZONED, st.datetimes())),
    (pa.timestamp("us"), st.one_of(st.datetimes(), ZONED)),
    # Other exponents: pyarrow and ours refuse a third decimal alike. (Not beyond 38 digits,
    # where pyarrow makes 0.00 of 4E-20 while ours refuses it.)
    (
        MONEY,
        st.one_of(
            st.integers(0, 6).flatmap(lambda places: st.decimals(-(10**15), 10**15, places=places)),
            st.sampled_from([Decimal("1E+2"), Decimal("-0"), Decimal("-0.00"), Decimal("1.100")]),
        ),
    ),
    (MONEY, st.integers(-(10**16), 10**16)),
    (pa.decimal128(38, 10), st.decimals(min_value=-(10**28) + 1, max_value=10**28 - 1, places=10)),
]


@pytest.mark.parametrize(("type_", "values"), CASES, ids=[str(t) for t, _ in CASES])
@settings(deadline=None)  # no test depends on the machine's speed
@given(data=st.data())
def test_arrays_equal_pyarrows_own_conversion(type_, values, data):
    column = data.draw(st.lists(st.one_of(st.none(), values), max_size=40))
    try:
        expected = pa.array(column, type_)
    except (ValueError, TypeError, OverflowError):
        with pytest.raises((ValueError, TypeError, OverflowError)):
            arrays.array(column, type_)
        return
    ours = arrays.array(column, type_)
    ours.validate(full=True)
    assert ours.equals(expected)
    assert ours.to_pylist() == expected.to_pylist()


def test_decimals_do_not_follow_the_threads_decimal_context():
    with decimal.localcontext(prec=6):
        assert arrays.array([Decimal("12345678.91")], MONEY).to_pylist() == [Decimal("12345678.91")]


@pytest.mark.parametrize(
    ("values", "type_"),
    [
        ([1], pa.bool_()),
        (["false"], pa.bool_()),
        ([True], pa.int32()),
        ([b"\xff"], pa.string()),
        ([Decimal("1.5")], pa.float64()),
        ([1.5], MONEY),
        ([dt.date(2026, 5, 1)], TIMESTAMP),
    ],
)
def test_values_pyarrow_refuses_are_refused(values, type_):
    with pytest.raises((TypeError, ValueError)):
        pa.array(values, type_)
    with pytest.raises(TypeError):
        arrays.array(values, type_)


def test_large_columns_come_in_pieces(monkeypatch):
    monkeypatch.setattr(arrays, "PIECE_ROWS", 3)
    schema = pa.schema([("n", pa.int32()), ("s", pa.string())])
    columns = {"n": [1, None, 3, 4, 5, 6, 7], "s": ["a", "b", None, "d", "e", "f", "g"]}
    table = arrays.table(columns, schema)
    assert table["s"].num_chunks == 3
    assert table.equals(pa.table(columns, schema=schema))


def test_a_piece_beyond_2_gib_is_refused_with_a_clear_error():
    class Huge(bytes):
        def __len__(self) -> int:
            return 2**31

    with pytest.raises(ValueError, match="do not fit one binary array"):
        arrays.array([Huge()], pa.binary())


def test_string_columns_hold_non_ascii_and_empty_strings():
    column = ["", "طلب", None, "a\x00b", "🛒"]
    assert arrays.array(column, pa.string()).to_pylist() == column


def test_values_a_column_cannot_hold_exactly_are_refused():
    with pytest.raises(ValueError, match="does not fit"):
        arrays.array([Decimal("1.005")], MONEY)  # a third decimal: pyarrow refuses it too
    with pytest.raises(ValueError, match="does not fit"):
        arrays.array([Decimal("1e17")], MONEY)
    with pytest.raises(OverflowError):
        arrays.array([2**31], pa.int32())
    with pytest.raises(TypeError, match="no conversion"):
        arrays.array([[1]], pa.list_(pa.int32()))


def test_tables_scalars_and_empty_tables():
    assert arrays.empty(ORDERS).equals(ORDERS.empty_table())
    assert arrays.scalar(dt.date(2026, 5, 1), pa.date32()) == pa.scalar(
        dt.date(2026, 5, 1), pa.date32()
    )
    schema = pa.schema([("n", pa.int32()), ("s", pa.string())])
    ready = pa.array(["x", None], pa.string())
    table = arrays.table({"n": [1, None], "s": ready}, schema)
    assert table.equals(pa.table({"n": [1, None], "s": ["x", None]}, schema=schema))


def test_a_sync_never_imports_pandas(pipeline):
    """pandas costs each sync 0.2 s and 30 MB; pyarrow imports it from any conversion of
    Python values (``pa.array``, ``pa.scalar``...), so every one of them is kept out."""
    p = pipeline()
    script = (
        "import sys\n"
        "from tjar_pipelines.cli import main\n"
        "code = main(['sync', '--from', '2026-05-01', '--to', '2026-05-03'])\n"
        # The Python records' path too, which the spool takes for unusual orders.
        "from tjar_pipelines.client import Order\n"
        "from tjar_pipelines.lake.tables import orders_table\n"
        "import datetime as dt\n"
        "order = {'id': 1, 'created_at': '2026-05-01 10:00:00', 'order_details': [{'id': 2}]}\n"
        "parsed = Order.from_api(order, store='acme', timezone='UTC')\n"
        "orders_table([parsed], dt.datetime.now(dt.UTC))\n"
        "print('pandas imported:', 'pandas' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 of 3 runs succeeded" in out.stdout, out.stdout
    assert "pandas imported: False" in out.stdout
    assert p.query("SELECT count(*) FROM orders")[0][0] > 0
