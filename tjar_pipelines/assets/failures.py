"""Which failures a run retry can fix, and which it cannot."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from tjar_pipelines.client import (
    TjarAuthError,
    TjarClientRequestError,
    TjarNotFoundError,
    TjarPaginationError,
    TjarValidationError,
)
from tjar_pipelines.stores import RegistryError

PERMANENT = (
    RegistryError,
    TjarAuthError,
    TjarClientRequestError,
    TjarNotFoundError,
    TjarPaginationError,
    TjarValidationError,
)


@contextmanager
def no_retry_for_permanent_errors() -> Iterator[None]:
    """Makes errors a retry cannot fix (a missing or rejected key…) fail the run at once.

    They become a final :class:`dagster.Failure` carrying the error's own advice.
    """
    try:
        yield
    except PERMANENT as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


def run_retry_policy(retries: int) -> dg.RetryPolicy | None:
    """Retries for transient trouble (5xx, timeouts) beyond the client's own attempts."""
    if retries <= 0:
        return None
    return dg.RetryPolicy(
        max_retries=retries, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )
