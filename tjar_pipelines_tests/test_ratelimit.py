"""The per-store token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from tjar_pipelines.client.ratelimit import BucketRegistry, TokenBucket
from tjar_pipelines_tests.conftest import FakeClock


def bucket(
    clock: FakeClock, rate: float = 2.0, burst: int = 3, window: float = 60.0
) -> TokenBucket:
    return TokenBucket(
        rate=rate, burst=burst, window=window, clock=clock.monotonic, sleep=clock.sleep
    )


def test_burst_then_steady_rate():
    clock = FakeClock()
    b = bucket(clock)
    waits = [b.acquire() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.5] * 4)


def test_adapts_to_the_limit_the_store_advertises():
    clock = FakeClock()
    b = bucket(clock, rate=100.0, burst=10, window=60.0)
    b.observe({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0"})
    assert b.rate == pytest.approx(1.0)
    assert b.acquire() == pytest.approx(1.0)  # the store says nothing is left: wait a token


def test_remaining_caps_the_tokens():
    clock = FakeClock()
    b = bucket(clock, rate=1.0, burst=10)
    b.observe({"x-ratelimit-remaining": "2"})
    assert [b.acquire() for _ in range(3)] == pytest.approx([0.0, 0.0, 1.0])


def test_junk_headers_change_nothing():
    b = bucket(FakeClock())
    b.observe({"x-ratelimit-limit": "lots", "x-ratelimit-remaining": ""})
    assert b.rate == 2.0


def test_pause_holds_everyone():
    clock = FakeClock()
    b = bucket(clock)
    b.pause(4.0)
    assert b.acquire() == pytest.approx(4.0)


def test_registry_shares_one_bucket_per_key():
    registry = BucketRegistry()
    clock = FakeClock()
    one = registry.get("acme", lambda: bucket(clock))
    assert registry.get("acme", lambda: bucket(clock)) is one
    assert registry.get("other", lambda: bucket(clock)) is not one


def test_a_window_the_store_opens_is_used_at_once():
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    for left in range(9, -1, -1):  # a fixed window of 10 from the first answer on, all spent
        b.acquire()
        b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": str(left)})
    assert b.acquire() == pytest.approx(1.0)  # until it ends
    b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9"})  # a new one opened
    assert [b.acquire() for _ in range(9)] == [0.0] * 9  # not 0.1 s apart
    assert b.acquire() > 0.0


def _leave_one_in_a_window(clock: FakeClock, b: TokenBucket) -> float:
    """Nine requests of a window of 10 answered at once; returns when the window opened."""
    opened = clock.now
    for left in range(9, 0, -1):
        b.acquire()
        b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": str(left)})
    return opened


def test_no_request_goes_into_a_spent_window_while_its_last_answer_is_on_the_way():
    """A round trip (0.25 s) longer than a token takes to accrue (0.1 s): the 11th request must
    wait for the 10th's answer, which says the window is spent, and then for the window's end."""
    clock = FakeClock()
    tenth_sent: list[float] = []
    answered: list[float] = []

    def sleep(seconds: float) -> None:  # the tenth's answer comes while the eleventh waits
        clock.sleep(seconds)
        if tenth_sent and not answered and clock.now >= tenth_sent[0] + 0.25:
            answered.append(clock.now)
            b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0"}, tenth_sent[0])

    b = TokenBucket(rate=10.0, burst=10, window=1.0, clock=clock.monotonic, sleep=sleep)
    opened = _leave_one_in_a_window(clock, b)
    b.acquire()  # the tenth, on its way
    tenth_sent.append(clock.now)
    b.acquire()
    assert answered  # the eleventh did not go before the answer came
    assert clock.now >= opened + 1.0


def test_a_dated_window_gives_no_more_than_its_answers_said_until_it_ends():
    """Nothing on its way, and time passing, add nothing to what the store said is left: its
    fixed window gives no more until it ends. Then one request may go at once."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    opened = _leave_one_in_a_window(clock, b)
    clock.sleep(0.35)  # the callers busy with what they read: three tokens' worth and more
    assert b.acquire() == 0.0  # the one left
    b.acquire()
    assert clock.now == pytest.approx(opened + 1.0)


@pytest.mark.parametrize("answer", ["without headers", "none"])
def test_after_an_answer_that_says_nothing_the_tokens_accrue_again(answer):
    """A proxy's error page, or a timeout, gives no word of what is left: waiting for the
    window's end (up to a minute against Laravel) would stall a store that has requests left."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    _leave_one_in_a_window(clock, b)
    b.acquire()
    clock.sleep(0.5)  # in the window, on the way: no time to credit when the word stops
    if answer == "none":
        b.unanswered()
    else:
        b.observe({}, status=502)
    assert b.acquire() == pytest.approx(0.1)  # one token at the store's average rate


def test_a_late_answer_from_the_window_before_does_not_stop_the_next():
    """The last request of a window is answered after the first of the next: its "0 left" is
    about the window before and must not hold the callers until the new one ends."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    _leave_one_in_a_window(clock, b)
    b.acquire()  # the window's last request, answered late
    last_sent = b.now()
    b.acquire()  # at the window's end: the next one's first
    first_sent = b.now()
    clock.sleep(0.05)
    b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9"}, first_sent)
    b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0"}, last_sent)
    assert [b.acquire() for _ in range(8)] == [0.0] * 8


def test_no_more_go_at_once_than_a_window_holds():
    """An idle bucket has a window's worth of tokens (4); with round trips (0.3 s) longer than a
    token takes (0.25 s), a fifth request must wait for the answers, not go into the same
    window of the store."""
    clock = FakeClock()
    burst: list[float] = []

    def sleep(seconds: float) -> None:  # the four are answered while the fifth waits
        clock.sleep(seconds)
        if len(burst) == 4 and clock.now >= burst[0] + 0.3:
            for left in (3, 2, 1, 0):
                b.observe(
                    {"x-ratelimit-limit": "4", "x-ratelimit-remaining": str(left)}, burst.pop()
                )

    b = TokenBucket(rate=10.0, burst=10, window=1.0, clock=clock.monotonic, sleep=sleep)
    b.acquire()
    b.observe({"x-ratelimit-limit": "4", "x-ratelimit-remaining": "3"})
    clock.sleep(5.0)  # idle: the window the store dated is long over
    for _ in range(4):
        assert b.acquire() == 0.0
        burst.append(b.now())
    opened = clock.now
    b.acquire()
    assert not burst  # the fifth waited for the answers...
    assert clock.now >= opened + 1.0  # ...and then for the window's end


def test_a_smaller_limit_than_the_burst_trims_the_tokens_left():
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    b.acquire()
    b.observe({"x-ratelimit-limit": "4"})  # the limit, and nothing said of what is left
    assert [b.acquire() for _ in range(4)] == [0.0] * 4  # of the 9 tokens left, 4
    for _ in range(4):
        b.observe({"x-ratelimit-limit": "4"})
    assert b.acquire() == pytest.approx(0.25)  # then at the store's rate


def _spend_a_window(clock: FakeClock, b: TokenBucket, trips: list[float]) -> list[float]:
    """Ten requests, one after the other, each answered its trip after it went out, the store
    saying what is left of its window of 10; returns when each went out."""
    sent: list[float] = []
    for left, trip in zip(range(9, -1, -1), trips, strict=True):
        b.acquire()
        sent.append(b.now())
        clock.sleep(trip)
        b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": str(left)}, sent[-1])
    return sent


def test_a_window_is_dated_half_a_round_trip_before_the_answer_that_opened_it():
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    first = _spend_a_window(clock, b, [0.2] + [0.08, 0.06, 0.07] * 3)  # the first one connects
    second = _spend_a_window(clock, b, [0.09] * 10)
    third = _spend_a_window(clock, b, [0.01] + [0.09] * 9)
    fourth = _spend_a_window(clock, b, [0.09] * 10)
    # No trip came before the first window's: it is dated from its answer, 0.2 s on.
    assert second[0] == pytest.approx(first[0] + 0.2 + 1.0)
    # Half the shortest trip before (0.06 s) when the opener's own trip was longer...
    assert third[0] == pytest.approx(second[0] + 0.09 - 0.03 + 1.0)
    # ...and half its own when shorter: a window never starts before its opener went out.
    assert fourth[0] == pytest.approx(third[0] + 0.01 - 0.005 + 1.0)


@pytest.mark.parametrize("told", ["pause", "status"])
def test_after_a_429_windows_are_dated_from_the_answers(told):
    clock = FakeClock()
    b = bucket(clock, rate=10.0, burst=10, window=1.0)
    _spend_a_window(clock, b, [0.06] * 10)
    if told == "pause":
        b.pause(0.0)  # a 429 waited out
    else:  # a 429 its caller did not wait out (its Retry-After was too long)
        b.acquire()
        sent = b.now()
        clock.sleep(0.06)
        b.observe({}, sent, 429)
    second = _spend_a_window(clock, b, [0.06] * 10)
    third = _spend_a_window(clock, b, [0.06] * 10)
    # From the answer that opened the second window, not half a round trip (0.03 s) before it.
    assert third[0] == pytest.approx(second[0] + 0.06 + 1.0)


def test_requests_on_their_way_count_against_what_the_store_says_is_left():
    clock = FakeClock()
    b = bucket(clock, rate=0.001, burst=10, window=10_000.0)
    for _ in range(4):
        b.acquire()
    # The first answer says 5 are left; the other 3 requests will take 3 of them.
    b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "5"})
    assert [b.acquire() for _ in range(2)] == [0.0, 0.0]
    assert b.acquire() > 0.0


def test_a_request_that_got_no_answer_no_longer_counts_as_on_its_way():
    clock = FakeClock()
    b = bucket(clock, rate=0.001, burst=10, window=10_000.0)
    b.acquire()
    b.acquire()
    b.unanswered()  # a transport error
    b.observe({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "3"})
    assert [b.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.acquire() > 0.0
