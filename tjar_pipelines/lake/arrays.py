"""Arrow arrays made from Python values through their buffers, without importing pandas.

pyarrow's own conversions from Python objects (``pa.array``, ``pa.scalar``,
``pa.Table.from_pydict``, ``from_pylist``, ``Schema.empty_table``) import pandas the first time
any of them runs, only to ask whether the values are pandas objects. Nothing else in a sync
needs pandas: its import took 0.2 s and 30 MB of every sync (README, benchmarks). These give
what ``pa.array(values, type)`` gives for the column types of the lake's tables (a test
compares them on random values), ``None`` being null.
"""

from __future__ import annotations

import datetime as dt
import itertools
from array import array as typed
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
_MICROSECOND = dt.timedelta(microseconds=1)
_MAX_OFFSET = 2**31 - 1
# array codes of 32- and 64-bit signed integers and 64-bit floats, in the machine's byte
# order (Arrow's buffers are little-endian, like every machine pyarrow ships for).
_INT32, _INT64, _FLOAT64 = "i", "q", "d"


def array(values: Sequence[Any], type: pa.DataType) -> pa.Array:
    """The Arrow array of ``values`` as ``type``; ``None`` is null.

    Types: string and binary (of ``str`` or ``bytes``), int32, int64, float64, bool, date32,
    timestamps in microseconds (a naive ``datetime`` read as UTC, like pyarrow) and
    decimal128 (values that fit its scale and precision exactly, like pyarrow).
    """
    nulls = [n for n, value in enumerate(values) if value is None]
    present = values if not nulls else [_FILLER.get(type.id) if v is None else v for v in values]
    data = _data_buffers(present, type)
    validity = _bitmap(len(values), nulls, clear=True) if nulls else None
    result = pa.Array.from_buffers(type, len(values), [validity, *data], null_count=len(nulls))
    result.validate()
    return result


def scalar(value: Any, type: pa.DataType) -> pa.Scalar:
    """``pa.scalar(value, type)``, as :func:`array` makes it."""
    return array([value], type)[0]


def table(columns: Mapping[str, Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """``pa.Table.from_pydict(columns, schema)``; a column may already be an Arrow array."""
    return pa.Table.from_arrays(
        [
            column if isinstance(column, pa.Array) else array(column, field.type)
            for field, column in ((f, columns[f.name]) for f in schema)
        ],
        schema=schema,
    )


def empty(schema: pa.Schema) -> pa.Table:
    """``schema.empty_table()``."""
    return pa.Table.from_batches([], schema)


def _data_buffers(values: Sequence[Any], type: pa.DataType) -> list[pa.Buffer | None]:
    if pa.types.is_string(type) or pa.types.is_binary(type):
        encoded = [v.encode() if isinstance(v, str) else v for v in values]
        offsets = typed(_INT32, itertools.accumulate(map(len, encoded), initial=0))
        if offsets[-1] > _MAX_OFFSET:
            raise ValueError(f"{offsets[-1]} bytes do not fit one {type} array")
        return [pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    if pa.types.is_boolean(type):
        return [_bitmap(len(values), [n for n, v in enumerate(values) if v], clear=False)]
    if pa.types.is_date32(type):
        return [pa.py_buffer(typed(_INT32, [v.toordinal() - _EPOCH_DAY for v in values]))]
    if pa.types.is_timestamp(type) and type.unit == "us":
        return [pa.py_buffer(typed(_INT64, [_microseconds(v) for v in values]))]
    if pa.types.is_decimal128(type):
        return [pa.py_buffer(b"".join(_decimal(v, type) for v in values))]
    code = {pa.int32(): _INT32, pa.int64(): _INT64, pa.float64(): _FLOAT64}.get(type)
    if code is None:
        raise TypeError(f"no conversion to {type}")
    return [pa.py_buffer(typed(code, values))]


# What stands in a null's slot of the data buffer (Arrow ignores it).
_FILLER: dict[int, Any] = {
    pa.string().id: "",
    pa.binary().id: b"",
    pa.bool_().id: False,
    pa.date32().id: dt.date(1970, 1, 1),
    pa.timestamp("us").id: _EPOCH,
    pa.decimal128(1).id: Decimal(0),
    pa.int32().id: 0,
    pa.int64().id: 0,
    pa.float64().id: 0.0,
}


def _bitmap(length: int, positions: list[int], *, clear: bool) -> pa.Buffer:
    """A bitmap of ``length`` bits: ``positions`` set (or, with ``clear``, all but those)."""
    bits = bytearray(b"\xff" if clear else b"\x00") * ((length + 7) // 8)
    for n in positions:
        if clear:
            bits[n >> 3] &= ~(1 << (n & 7)) & 0xFF
        else:
            bits[n >> 3] |= 1 << (n & 7)
    if clear and length % 8:
        bits[-1] &= (1 << (length % 8)) - 1  # bits past the end stay 0
    return pa.py_buffer(bytes(bits))


def _microseconds(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // _MICROSECOND


def _decimal(value: Decimal, type: pa.Decimal128Type) -> bytes:
    scaled = Decimal(value).scaleb(type.scale)
    if scaled != scaled.to_integral_value() or abs(scaled) >= 10**type.precision:
        raise ValueError(f"{value} does not fit {type} exactly")
    return int(scaled).to_bytes(16, "little", signed=True)
