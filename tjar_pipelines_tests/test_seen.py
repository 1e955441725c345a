"""SeenIds behaves exactly like a set of identifier strings, however it stores them."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from tjar_pipelines.client import seen
from tjar_pipelines.client.seen import SeenIds

identifiers = st.one_of(
    st.integers(min_value=0, max_value=10**20).map(str),
    st.sampled_from(["0", "00", "007", "-5", "+5", "1e3", "١٢", "12 ", "", "A-17", "9" * 18]),
    st.text(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), identifiers), max_size=200))
def test_it_answers_like_a_set_of_strings(operations):
    original = seen.MERGE_AT
    seen.MERGE_AT = 4  # merge often, so lookups cross the sorted array and the recent set
    try:
        compact, plain = SeenIds(), set()
        for adding, identifier in operations:
            if adding:
                compact.add(identifier)
                plain.add(identifier)
            assert (identifier in compact) == (identifier in plain)
            assert len(compact) == len(plain)
        assert all((identifier in compact) == (identifier in plain) for _, identifier in operations)
    finally:
        seen.MERGE_AT = original


def test_half_a_million_order_identifiers_take_a_quarter_of_a_set_of_strings():
    def traced(build):
        tracemalloc.start()
        try:
            kept = build()
            return kept, tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    def compact_ids() -> SeenIds:
        kept = SeenIds()
        for n in range(10_000_000, 10_500_000):
            kept.add(str(n))
        return kept

    compact, compact_bytes = traced(compact_ids)
    plain, plain_bytes = traced(lambda: {str(n) for n in range(10_000_000, 10_500_000)})
    assert len(compact) == len(plain) == 500_000
    assert compact_bytes * 4 < plain_bytes, (compact_bytes, plain_bytes)
