"""Token buckets, one per store, shared by every client of that store in the process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_EPSILON = 1e-9


class TokenBucket:
    """A thread-safe token bucket that follows what the store says about its own limit.

    Until the store sends ``X-RateLimit-Limit`` the bucket refills at the configured rate. Once
    it does, the rate becomes ``limit / window`` and the tokens follow the store's
    ``X-RateLimit-Remaining``, less the requests still on their way: never more (so a limit
    shared with other callers is respected too), and, up to ``burst``, not fewer either (so a
    window the store has just opened is used at once instead of at the average rate). A store
    that counts in fixed windows (Laravel does) says ``Remaining: limit - 1`` on the first
    request of a window; when ``Remaining`` reaches 0 every caller waits until that window
    ends instead of provoking a 429. Inside a window it has dated that way, the tokens come
    from its answers alone, as the store gives no more until the window ends: accruing at the
    average rate, they could send a request into a window that the answer still on its way
    says is spent. When it ends, one request may go at once; its answer dates the next. After
    an answer without the headers (a proxy's error page) or none at all, they accrue again.
    Once the store has said its limit, tokens accrued with time let no more than
    ``min(burst, limit)`` requests be on their way. A 429 pauses every caller until its
    ``Retry-After``.

    The store opened a window when the request that says so reached it, which was before its
    answer came back by the work the store did after counting it and the way back. Stores
    count a request first (Laravel's throttle is a middleware), so if the ways there and back
    take alike, that is at least half the request's round trip, and half the shortest trip of
    the requests before strips what the client itself held the request back (the interpreter
    lock) from the guess. A window is dated the smaller of the two halves before its answer,
    so the next begins about when the store's does instead of that much late. Where the guess
    runs early anyway the store answers 429, once: after any 429, windows are dated from their
    answers.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        window: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._rate = rate
        self._capacity = float(burst)
        self._burst = float(burst)
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = 0.0
        self._window_started: float | None = None
        self._shortest_trip: float | None = None  # from a request's sending to its answer
        self._dated_by_answers = False  # after a 429: no more guessing when windows open
        self._in_flight = 0  # requests sent that have not been answered yet
        self._told = False  # the last answer said what is left (not an error page, no timeout)
        self._limited = False  # the store has said its limit
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def now(self) -> float:
        """The bucket's clock, to time a request from its sending to its answer by."""
        return self._clock()

    def _refill(self, now: float) -> None:
        # Nothing accrues while paused: the pause already is the wait the store asked for.
        start = max(self._updated, self._paused_until)
        end = self._told_window_end()
        if end is not None and start < end:
            if now < end:  # nor in a window the store dated: its answers alone give the tokens
                self._updated = now
                return
            self._tokens = max(self._tokens, 1.0)  # a request may open the next window at once
            start = end
        elapsed = max(0.0, now - start)
        ceiling = self._capacity
        if self._limited:
            # Time lets no more be on their way than ``min(burst, limit)``: the answers that
            # date the next window come back a round trip after the requests that open it.
            ceiling = min(self._capacity, max(self._tokens, self._capacity - self._in_flight))
        self._tokens = min(ceiling, self._tokens + elapsed * self._rate)
        self._updated = now

    def acquire(self) -> float:
        """Blocks until a request may go out; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self._in_flight += 1
                    return waited
                else:
                    wait = (1.0 - self._tokens) / self._rate
                    end = self._told_window_end()
                    if end is not None and now < end:
                        wait = min(wait, end - now)  # its end brings a token at once
                    # Never a wait too small to move a float clock that reads in the thousands.
                    wait = max(wait, 1e-6)
            self._sleep(wait)
            waited += wait

    def observe(
        self, headers: Mapping[str, str], sent_at: float | None = None, status: int = 200
    ) -> None:
        """Adapts to the ``X-RateLimit-*`` headers of the answer to a request ``acquire`` let go.

        Args:
            headers: The answer's headers.
            sent_at: When the request went out, by :meth:`now`; ``None`` if unknown (the
                window it may open is then dated from its answer).
            status: The answer's HTTP status; a 429 ends the guessing of when windows open.
        """
        limit = _int_header(headers, "x-ratelimit-limit")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            now = self._clock()
            if status == 429:
                self._dated_by_answers = True
            trip = now - sent_at if sent_at is not None and now >= sent_at else None
            opened_before_answer = self._opened_before_answer(trip)
            if trip is not None and (self._shortest_trip is None or trip < self._shortest_trip):
                self._shortest_trip = trip
            self._refill(now)
            if limit is None and remaining is None:
                self._told = False  # an error page: the tokens accrue again
                return
            limit = limit if limit is not None and limit > 0 else None
            opens = limit is not None and remaining is not None and remaining >= limit - 1
            if limit is not None:
                self._rate = limit / self._window
                self._capacity = min(self._burst, float(limit))
                self._limited = True
                if opens:
                    self._window_started = now - opened_before_answer
            # What is left of a window before the one dated since this request went out: the
            # answers of that one already count it as on its way.
            earlier = (
                not opens
                and sent_at is not None
                and self._window_started is not None
                and sent_at < self._window_started
            )
            if remaining is not None and not earlier:
                self._told = True
                # The store has not counted the requests still on their way.
                allowed = float(max(remaining - self._in_flight, 0))
                self._tokens = min(max(self._tokens, min(allowed, self._capacity)), allowed)
                if remaining <= 0 and self._window_started is not None:
                    resume = self._window_started + self._window
                    self._paused_until = max(self._paused_until, resume)
                    self._tokens = 1.0  # the next window opens with at least one request

    def _opened_before_answer(self, trip: float | None) -> float:
        """How long before its answer, taking ``trip``, a request may have opened a window.

        Nothing for the first request (its trip includes connecting, and no other bounds it).
        """
        if self._dated_by_answers or trip is None or self._shortest_trip is None:
            return 0.0
        return min(trip, self._shortest_trip) / 2

    def _told_window_end(self) -> float | None:
        """The end of the window the store dated, while its answers alone give the tokens."""
        if self._window_started is None or not self._told:
            return None
        return self._window_started + self._window

    def unanswered(self) -> None:
        """A request :meth:`acquire` let go got no answer (a transport error)."""
        with self._lock:
            self._refill(self._clock())
            self._in_flight = max(0, self._in_flight - 1)
            self._told = False  # nothing said what is left: the tokens accrue again

    def pause(self, seconds: float, *, rate_limited: bool = True) -> None:
        """Holds every caller of this store for ``seconds``.

        After a 429; or after a 503 that says when the store is back (``rate_limited=False``,
        which leaves the dating of the store's rate windows as it was).
        """
        with self._lock:
            if rate_limited:
                self._dated_by_answers = True  # as observe does, for a 429 it was not shown
            now = self._clock()
            self._paused_until = max(self._paused_until, now + seconds)
            self._tokens = 1.0  # one request goes when the pause ends, then as the store says
            self._updated = now


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class BucketRegistry:
    """Hands out one :class:`TokenBucket` per store key, creating it on first use."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def get(self, key: str, factory: Callable[[], TokenBucket]) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = factory()
            return bucket


SHARED_BUCKETS = BucketRegistry()
"""The process-wide registry: every client of the same store shares one bucket through it."""
