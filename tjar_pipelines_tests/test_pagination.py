"""parse_page on every pagination shape of §15 (no HTTP)."""

from __future__ import annotations

import pytest

from tjar_pipelines.client.pagination import PageShapeError, parse_page

ITEMS = [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "data": {
                    "orders": ITEMS,
                    "pagination": {"current_page": 2, "last_page": 3, "per_page": 2, "total": 6},
                }
            },
            (2, 3, 2, 6, None),
        ),
        (
            {
                "data": {"orders": ITEMS},
                "meta": {"current_page": "1", "last_page": "4", "per_page": 2, "total": 8},
                "links": {"next": "https://x?page=2", "prev": None},
            },
            (1, 4, 2, 8, True),
        ),
        (
            {
                "data": {
                    "orders": ITEMS,
                    "meta": {"current_page": 3, "last_page": 3},
                    "links": {"next": None},
                }
            },
            (3, 3, None, None, False),
        ),
        (
            {
                "data": {"orders": ITEMS},
                "pagination": {
                    "count": 2,
                    "total": 9,
                    "perPage": 2,
                    "currentPage": 1,
                    "totalPages": 5,
                    "links": {"next": "u", "previous": None},
                },
            },
            (1, 5, 2, 9, True),
        ),
        ({"data": {"orders": ITEMS}}, (None, None, None, None, None)),
        ({"data": ITEMS, "meta": {"current_page": 1, "last_page": 1}}, (1, 1, None, None, None)),
    ],
    ids=["data.pagination", "laravel-meta-links", "meta-inside-data", "salla", "none", "bare-list"],
)
def test_shapes(body, expected):
    page = parse_page(body, "orders")
    assert page.items == ITEMS
    assert (page.current_page, page.last_page, page.per_page, page.total, page.has_next) == expected


@pytest.mark.parametrize(
    "body", [{"data": {"items": []}}, {"data": None}, {"data": {"orders": [1, 2]}}, {}]
)
def test_bodies_without_the_list_are_refused(body):
    with pytest.raises(PageShapeError):
        parse_page(body, "orders")
