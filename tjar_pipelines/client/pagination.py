"""Reads one list response, whatever pagination shape the store uses (§7, §15).

Accepted shapes:

* ``data.pagination = {current_page, last_page, per_page, total}`` (the default);
* Laravel ``meta{current_page, last_page, per_page, total}`` + ``links{next, prev}``, at the top
  level or inside ``data``;
* Salla-style top-level ``pagination{count, total, perPage, currentPage, totalPages, links}``;
* no metadata at all, where only the length of the page tells anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tjar_pipelines.client.raw_records import RawRecord

_CURRENT = ("current_page", "currentPage", "page")
_LAST = ("last_page", "lastPage", "totalPages", "total_pages", "pages")
_PER_PAGE = ("per_page", "perPage", "page_size", "limit")
_TOTAL = ("total", "total_count", "totalCount")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, with whatever the server said about the rest.

    Attributes:
        items: The records on this page: JSON objects, or :class:`RawRecord` for a body
            read by :func:`~tjar_pipelines.client.raw_records.decode_list_body`.
        current_page: Page number the server says it served, if it said.
        last_page: Number of the last page, if the server said.
        per_page: Page size the server actually used, if it said (reveals a silent clamp).
        total: Rows in the whole list, if the server said.
        has_next: Whether a ``next`` link exists; ``None`` when the server gives no links.
    """

    items: list[Any]
    current_page: int | None = None
    last_page: int | None = None
    per_page: int | None = None
    total: int | None = None
    has_next: bool | None = None


class PageShapeError(ValueError):
    """The body is not a list response with the expected list key."""


def parse_page(body: Mapping[str, Any], list_key: str) -> Page:
    """Extracts the items and the pagination facts of a list response.

    Args:
        body: The decoded JSON body.
        list_key: Key of the list inside ``data`` (``orders``, ``products``).

    Returns:
        The page; missing metadata is ``None``.

    Raises:
        PageShapeError: The list cannot be found.
    """
    data = body.get("data")
    if isinstance(data, list):
        items, container = data, {}
    elif isinstance(data, Mapping) and isinstance(data.get(list_key), list):
        items, container = data[list_key], data
    elif isinstance(body.get(list_key), list):
        items, container = body[list_key], {}
    else:
        raise PageShapeError(f"no list under data.{list_key}")
    if not all(isinstance(item, Mapping | RawRecord) for item in items):
        raise PageShapeError(f"data.{list_key} holds something other than objects")

    meta: Mapping[str, Any] = {}
    for candidate in (
        container.get("pagination"),
        container.get("meta"),
        body.get("pagination"),
        body.get("meta"),
    ):
        if isinstance(candidate, Mapping):
            meta = candidate
            break
    links = _first_mapping(meta.get("links"), container.get("links"), body.get("links"))
    has_next: bool | None = None
    if links is not None and ("next" in links or "next_page_url" in links):
        has_next = bool(links.get("next") or links.get("next_page_url"))
    elif "next_page_url" in meta:
        has_next = bool(meta.get("next_page_url"))

    return Page(
        items=list(items),
        current_page=_first_int(meta, _CURRENT),
        last_page=_first_int(meta, _LAST),
        per_page=_first_int(meta, _PER_PAGE),
        total=_first_int(meta, _TOTAL),
        has_next=has_next,
    )


def _first_mapping(*candidates: object) -> Mapping[str, Any] | None:
    for candidate in candidates:
        if isinstance(candidate, Mapping):
            return candidate
    return None


def _first_int(meta: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
    return None
