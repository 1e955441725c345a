"""List pages read for bulk loads: each record kept as the JSON the store sent, barely decoded.

Decoding a page of orders into Python dicts costs more CPU than anything else the bulk path does
per order in Python (about 20 us an order for the simulator's orders), and the lake then only
needs each order's JSON text and a few of its fields: the rest is read by DuckDB from the text
(:mod:`tjar_pipelines.lake.order_rows`). msgspec reads a page once, finds each record's text in
it (``msgspec.Raw``) and decodes only the fields named in :class:`_Head`: about half the CPU.
Each record's text is copied out of its page (1 us): with records pointing into their pages,
a sync of 100,000 orders grew by 200 MB as it ran; with copies it stays flat (measured).

Records are kept exactly as the store wrote them, whitespace and escapes included. A page
msgspec refuses (``NaN``, ``1e400`` in a field it decodes, a lone surrogate escape: JSON the
standard library still reads) is decoded as a whole and its records written out again
(:func:`raw_json`).

One difference remains from pages decoded whole: an object that repeats a key (which JSON
leaves undefined, and which PHP, Tjar's language, cannot write) keeps both in the text. DuckDB
reads the first, Python's decoders the last, so such an order's columns may mix both.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from tjar_pipelines.client.records import LONE_SURROGATE, order_line_count, record_identifier
from tjar_pipelines.client.retrying import decode_object

log = logging.getLogger("tjar_pipelines.client")

Json = dict[str, Any]


class _Fields(msgspec.Struct):
    """The fields of a record that are read in Python; the others are skipped unparsed."""

    identifier: Any = None
    id: Any = None
    created_at: Any = None
    updated_at: Any = None


class _Head(_Fields):
    """Those fields and ``order_details``, any JSON value: a list's items stay unparsed."""

    order_details: list[msgspec.Raw] | dict[str, msgspec.Raw] | str | int | float | bool | None = (
        None
    )


class _HeadOfOddLines(_Fields):
    """Those fields and ``order_details`` unparsed, for one msgspec cannot decode (``1e400``)."""

    order_details: msgspec.Raw = msgspec.Raw(b"null")


_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_HEAD = msgspec.json.Decoder(_Head)
_HEAD_OF_ODD_LINES = msgspec.json.Decoder(_HeadOfOddLines)
_ANY = msgspec.json.Decoder()


class RawRecord(msgspec.Struct, frozen=True, gc=False):
    """One record of a list page as the store sent it, with the few fields read in Python.

    A msgspec struct rather than a dataclass: a page makes a hundred of them, and a struct is
    made five times faster; the garbage collector need not track it (``gc=False``), as nothing
    it holds can refer back to it: ``head`` is read, never written to.

    Attributes:
        json: The record's JSON text (UTF-8; checked to be valid).
        identifier: Its ``identifier``, or its ``id``, as :func:`records.record_identifier`
            reads them (``None`` if neither).
        head: Its ``created_at`` and ``updated_at``, decoded (``None`` when absent), for
            :func:`records.order_instants`.
        line_count: How many objects its ``order_details`` list holds, as
            :func:`records.order_line_count` counts them.
    """

    json: bytes
    identifier: str | None
    head: Json
    line_count: int

    @classmethod
    def of(cls, payload: Json, *, store: str, kind: str) -> RawRecord:
        """The record of an already decoded JSON object (its JSON written out again).

        ``store`` and ``kind`` (``order``, ``product``) name it in a warning.
        """
        identifier = record_identifier(payload)
        record = f"{kind} {identifier or 'without an identifier'}"
        return cls(
            json=raw_json(payload, store=store, record=record).encode(),
            identifier=identifier,
            head={"created_at": payload.get("created_at"), "updated_at": payload.get("updated_at")},
            line_count=order_line_count(payload),
        )


def raw_json(raw: Mapping[str, Any], *, store: str, record: str) -> str:
    """A record as JSON text (orjson: the same JSON, an order of magnitude faster).

    Always strict JSON in valid UTF-8: NaN and the infinities (which a body read by the standard
    library may hold) are written as null, by orjson and by the fallback alike, and a lone
    surrogate (an escape from U+D800 to U+DFFF alone, which the standard library reads) as
    U+FFFD. ``store`` and ``record`` (say ``order 55 line 2``) name the record in a warning.
    """
    try:
        return orjson.dumps(raw).decode()
    except TypeError:  # integers beyond 64 bits and other oddities the standard library takes
        text = json.dumps(_finite(raw), ensure_ascii=False, separators=(",", ":"), default=str)
    if LONE_SURROGATE.search(text):
        log.warning(
            "store %s: %s holds text that is not valid Unicode (a lone surrogate, U+D800 to "
            "U+DFFF); each is kept as U+FFFD",
            store,
            " ".join(record.split())[:120],  # the store's identifiers: no line breaks in logs
        )
        text = LONE_SURROGATE.sub("\ufffd", text)
    return text


def _finite(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by None, as orjson writes them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def decode_list_body(content: bytes, list_key: str, *, store: str) -> Json:
    """A list response's body, whose records are :class:`RawRecord` wherever a list may hold them.

    That is the lists at ``data``, ``data.<list_key>`` and ``<list_key>``
    (:func:`pagination.parse_page` finds the one the store uses); their items that are not
    objects stay decoded, so ``parse_page`` still refuses them. Everything else is decoded.

    Raises:
        ValueError: The body is not JSON, or not a JSON object.
    """
    _check_utf8(content)  # once here: msgspec does not check the text it skips
    try:
        return _lazy_body(content, list_key)
    except (msgspec.DecodeError, RecursionError):
        # JSON msgspec refuses or cannot hold (NaN, 1e400 in a field it decodes, a lone
        # surrogate escape, deep nesting), and a top level that is not an object: as a whole.
        return _decoded_body(content, list_key, store)


def _check_utf8(content: bytes) -> None:
    """Raises :class:`UnicodeDecodeError` unless ``content`` is valid UTF-8.

    Arrow's check is four times faster than decoding the page into a string (the error, the
    rare case, comes from the decoding, which says where).
    """
    if content.isascii():
        return
    import pyarrow as pa  # here: the client alone does not need it

    # An array over the page's own buffer (pa.array([content]) would import pandas).
    offsets = pa.py_buffer(struct.pack("=2q", 0, len(content)))
    page = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(content)])
    try:
        page.cast(pa.large_string())
    except pa.ArrowInvalid:
        content.decode()
        raise  # Arrow and Python disagree on what UTF-8 is: refuse the page all the same


def _lazy_body(content: bytes, list_key: str) -> Json:
    top = _OBJECT.decode(content)
    body: Json = {}
    for key, value in top.items():
        if key == "data" and _starts(value, b"{"):
            data = _OBJECT.decode(value)
            body[key] = {
                name: _listed(item) if name == list_key else _ANY.decode(item)
                for name, item in data.items()
            }
        elif key in ("data", list_key):
            body[key] = _listed(value)
        else:
            body[key] = _ANY.decode(value)
    return body


def _listed(value: msgspec.Raw) -> Any:
    """A list's objects as records, its other items decoded; anything but a list decoded."""
    if not _starts(value, b"["):
        return _ANY.decode(value)
    items = _LIST.decode(value)
    return [_record(item) if _starts(item, b"{") else _ANY.decode(item) for item in items]


def _record(raw: msgspec.Raw) -> RawRecord:
    try:
        head = _HEAD.decode(raw)
        lines = head.order_details
    except msgspec.ValidationError:
        # A value of order_details msgspec refuses (1e400): its list is counted unparsed, so the
        # page's other records keep their text (the other fields' values are checked again).
        head = _HEAD_OF_ODD_LINES.decode(raw)
        odd = head.order_details
        lines = _LIST.decode(odd) if _starts(odd, b"[") else None
    return RawRecord(
        json=bytes(raw),
        identifier=record_identifier(
            {"identifier": _as_orjson(head.identifier), "id": _as_orjson(head.id)}
        ),
        head={"created_at": head.created_at, "updated_at": head.updated_at},
        line_count=sum(_starts(line, b"{") for line in lines) if isinstance(lines, list) else 0,
    )


def _as_orjson(value: Any) -> Any:
    """``value`` as orjson reads it: an integer outside 64 bits (signed or not) as a float.

    So an identifier of 2**64 is no identifier here either, as for every other reader.
    """
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return float(value)
    return value


def _starts(raw: msgspec.Raw, char: bytes) -> bool:
    """Whether the JSON value ``raw`` starts with ``char`` (msgspec strips the space around it)."""
    return memoryview(raw)[0] == char[0]


def _decoded_body(content: bytes, list_key: str, store: str) -> Json:
    """The body decoded as a whole (see the module's docstring), its records made raw again."""
    body = decode_object(content)  # ValueError also for JSON nested too deep to read
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get(list_key), list):
        data[list_key] = _records(data[list_key], store, list_key)
    for key in ("data", list_key):
        if isinstance(body.get(key), list):
            body[key] = _records(body[key], store, list_key)
    return body


def _records(items: list[Any], store: str, list_key: str) -> list[Any]:
    kind = list_key.removesuffix("s")  # "orders" holds orders
    return [
        RawRecord.of(item, store=store, kind=kind) if isinstance(item, dict) else item
        for item in items
    ]
