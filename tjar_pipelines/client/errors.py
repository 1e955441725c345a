"""Typed errors of the Tjar client.

Every message names the store, the HTTP method and the path, and says what to do next. None ever
contains the API key: the key only lives in request headers, which are never formatted here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class TjarError(Exception):
    """Base class of every error the Tjar client raises.

    Attributes:
        store: Slug of the store the call was for.
        method: HTTP method, e.g. ``GET``.
        path: Path relative to the store's API base, with its query string.
        status: HTTP status of the last response, if one arrived.
        attempts: How many times the request was sent.
    """

    def __init__(
        self,
        problem: str,
        *,
        store: str,
        method: str,
        path: str,
        advice: str,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.store = store
        self.method = method
        self.path = path
        self.status = status
        self.attempts = attempts
        self.problem = problem
        self.advice = advice
        super().__init__(f"[store {store}] {method} {path}: {problem}. {advice}")


class TjarAuthError(TjarError):
    """The store rejected the API key (401) or the key lacks a permission (403)."""


class TjarNotFoundError(TjarError):
    """The resource does not exist in this store (404)."""


class TjarValidationError(TjarError):
    """The store refused the request body or parameters (422).

    Attributes:
        errors: Field name to messages, as the store reported them (may be empty).
    """

    def __init__(self, problem: str, *, errors: Mapping[str, Sequence[str]], **kwargs) -> None:
        self.errors = {field: list(msgs) for field, msgs in errors.items()}
        super().__init__(problem, **kwargs)


class TjarClientRequestError(TjarError):
    """Any other 4xx answer: the request itself is wrong and retrying will not help."""


class TjarRetryableError(TjarError):
    """Base of the errors raised once retries of a transient failure are used up."""


class TjarRateLimitError(TjarRetryableError):
    """The store kept answering 429 until the attempts ran out."""


class TjarServerError(TjarRetryableError):
    """The store kept answering 5xx until the attempts ran out."""


class TjarTransportError(TjarRetryableError):
    """Timeouts or broken connections until the attempts ran out."""


class TjarResponseError(TjarRetryableError):
    """The store answered 2xx with a body that is not the JSON envelope Tjar documents."""


class TjarPaginationError(TjarError):
    """Pages did not add up (for example the server ignores ``page``), so rows could be missing."""
