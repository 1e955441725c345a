"""Arrow arrays made through their buffers equal pyarrow's own conversions, and a sync never
imports pandas."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tjar_pipelines.lake import arrays
from tjar_pipelines.lake.tables import MONEY, ORDERS, TIMESTAMP

UTC_INSTANTS = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
)
OTHER_ZONES = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [dt.timezone(dt.timedelta(hours=3)), dt.timezone(-dt.timedelta(hours=14))]
    ),
)
CASES = [
    (pa.string(), st.text()),
    (pa.binary(), st.binary()),
    (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.float64(), st.floats(allow_nan=False)),
    (pa.bool_(), st.booleans()),
    (pa.date32(), st.dates()),
    (TIMESTAMP, st.one_of(UTC_INSTANTS, OTHER_ZONES, st.datetimes())),
    (pa.timestamp("us"), st.datetimes()),
    (
        MONEY,
        st.one_of(
            st.decimals(min_value=-(10**16) + 1, max_value=10**16 - 1, places=2),
            st.integers(-(10**15), 10**15).map(Decimal),
        ),
    ),
]


@pytest.mark.parametrize(("type_", "values"), CASES, ids=[str(t) for t, _ in CASES])
@given(data=st.data())
def test_arrays_equal_pyarrows_own_conversion(type_, values, data):
    column = data.draw(st.lists(st.one_of(st.none(), values), max_size=40))
    ours = arrays.array(column, type_)
    ours.validate(full=True)
    assert ours.equals(pa.array(column, type_))
    assert ours.to_pylist() == pa.array(column, type_).to_pylist()


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
