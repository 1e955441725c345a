"""Arrow arrays made from Python values through their buffers, without importing pandas.

pyarrow's own conversions from Python objects (``pa.array``, ``pa.scalar``,
``pa.Table.from_pydict``, ``from_pylist``, ``Schema.empty_table``) import pandas the first time
any of them runs, only to ask whether the values are pandas objects. Nothing else in a sync
needs pandas: its import took 0.2 s and 30 MB of every sync (README, benchmarks). These give
what ``pa.array(values, type)`` gives for the column types of the lake's tables, and refuse what
it refuses (a test compares them on random values), ``None`` being null.
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
import itertools
import sys
from array import array as typed
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
_MICROSECOND = dt.timedelta(microseconds=1)
_MAX_OFFSET = 2**31 - 1  # the last offset of a string or binary array (32-bit)
# A table's columns are made in pieces of at most this many values, so that no piece of a
# large catalogue reaches the 2 GiB a string array's offsets can address.
PIECE_ROWS = 100_000
# Decimals scaled without rounding, whatever the thread's decimal context says.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.InvalidOperation])
# The array module's codes of 32- and 64-bit signed integers and 64-bit floats. Its buffers
# are in the machine's byte order, as Arrow's are.
_INT32, _INT64, _FLOAT64 = "i", "q", "d"
# What stands in a null's slot of the data buffer (Arrow ignores it), by type id (one id for
# every timestamp unit and zone, and for every decimal128 precision).
_FILLER: dict[int, Any] = {
    pa.string().id: "",
    pa.binary().id: b"",
    pa.bool_().id: False,
    pa.date32().id: dt.date(1970, 1, 1),
    pa.timestamp("us").id: _EPOCH,
    pa.decimal128(1).id: 0,
    pa.int32().id: 0,
    pa.int64().id: 0,
    pa.float64().id: 0.0,
}


def array(values: Sequence[Any], type: pa.DataType) -> pa.Array:
    """The Arrow array of ``values`` as ``type``; ``None`` is null.

    Types: string (of ``str``), binary (of ``bytes`` or ``str``), int32 and int64 (of ``int``),
    float64 (of ``int`` or ``float``), bool, date32 (of ``date``), timestamps in microseconds
    (a naive ``datetime`` read as UTC, like pyarrow) and decimal128 (of ``Decimal`` or ``int``
    that fit its scale and precision exactly). Anything else raises ``TypeError`` or
    ``ValueError``: what ``pa.array`` refuses, and a few values it takes (a float as an int).
    """
    nulls = [n for n, value in enumerate(values) if value is None]
    present = values if not nulls else [_FILLER.get(type.id) if v is None else v for v in values]
    data = _data_buffers(present, type)
    validity = _validity(len(values), nulls) if nulls else None
    if pa.types.is_boolean(type):  # built as bytes of 0 and 1, which the cast packs into bits
        as_bytes = pa.Array.from_buffers(pa.uint8(), len(values), [validity, *data], len(nulls))
        return as_bytes.cast(pa.bool_())
    result = pa.Array.from_buffers(type, len(values), [validity, *data], null_count=len(nulls))
    result.validate()
    return result


def scalar(value: Any, type: pa.DataType) -> pa.Scalar:
    """``pa.scalar(value, type)``, as :func:`array` makes it."""
    return array([value], type)[0]


def table(columns: Mapping[str, Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """``pa.Table.from_pydict(columns, schema)``; a column may already be an Arrow array."""
    return pa.Table.from_arrays([_column(columns[f.name], f.type) for f in schema], schema=schema)


def empty(schema: pa.Schema) -> pa.Table:
    """``schema.empty_table()``."""
    return pa.Table.from_batches([], schema)


def _column(values: Sequence[Any], type: pa.DataType) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if len(values) <= PIECE_ROWS:
        return array(values, type)
    pieces = range(0, len(values), PIECE_ROWS)
    return pa.chunked_array([array(values[n : n + PIECE_ROWS], type) for n in pieces], type)


def _data_buffers(values: Sequence[Any], type: pa.DataType) -> list[pa.Buffer | None]:
    if pa.types.is_string(type) or pa.types.is_binary(type):
        if pa.types.is_string(type):
            _only(values, str, type)
        encoded = [v.encode() if isinstance(v, str) else v for v in values]
        offsets = typed(_INT64, itertools.accumulate(map(len, encoded), initial=0))
        if offsets[-1] > _MAX_OFFSET:
            raise ValueError(f"{offsets[-1]} bytes do not fit one {type} array")
        return [pa.py_buffer(typed(_INT32, offsets)), pa.py_buffer(b"".join(encoded))]
    if pa.types.is_boolean(type):
        _only(values, bool, type)
        return [pa.py_buffer(bytes(values))]
    if pa.types.is_date32(type):
        _only(values, dt.date, type)
        return [pa.py_buffer(typed(_INT32, [v.toordinal() - _EPOCH_DAY for v in values]))]
    if pa.types.is_timestamp(type) and type.unit == "us":
        _only(values, dt.datetime, type)
        return [pa.py_buffer(typed(_INT64, [_microseconds(v) for v in values]))]
    if pa.types.is_decimal128(type):
        _only(values, decimal.Decimal | int, type)
        return [pa.py_buffer(b"".join(_decimal(v, type) for v in values))]
    if type in (pa.int32(), pa.int64()):
        _only(values, int, type)
        return [pa.py_buffer(typed(_INT32 if type == pa.int32() else _INT64, values))]
    if type == pa.float64():
        _only(values, int | float, type)
        return [pa.py_buffer(typed(_FLOAT64, values))]
    raise TypeError(f"no conversion to {type}")


def _only(values: Sequence[Any], kind: Any, type: pa.DataType) -> None:
    """Raises ``TypeError`` unless every value is a ``kind`` (and, but for bool, not a bool)."""
    for cls in set(map(builtins.type, values)):
        if not issubclass(cls, kind) or (issubclass(cls, bool) and kind is not bool):
            raise TypeError(f"a {cls.__name__} is not a {type} value")


def _validity(length: int, nulls: list[int]) -> pa.Buffer:
    """A validity bitmap of ``length`` bits: set, but at the positions of ``nulls``."""
    bits = bytearray(b"\xff") * ((length + 7) // 8)
    for n in nulls:
        bits[n >> 3] &= ~(1 << (n & 7)) & 0xFF
    if length % 8:
        bits[-1] &= (1 << (length % 8)) - 1
    return pa.py_buffer(bytes(bits))


def _microseconds(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // _MICROSECOND


def _decimal(value: decimal.Decimal | int, type: pa.Decimal128Type) -> bytes:
    exact = decimal.Decimal(value)
    if not exact.is_finite():
        raise ValueError(f"{value} does not fit {type}")
    scaled = exact.scaleb(type.scale, context=_EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT) or abs(scaled) >= 10**type.precision:
        raise ValueError(f"{value} does not fit {type} exactly")
    return int(scaled).to_bytes(16, sys.byteorder, signed=True)
