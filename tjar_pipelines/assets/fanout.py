"""Work on the stores of one run at the same time, so a slow or failing store holds up no other."""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

import dagster as dg

from tjar_pipelines.assets.failures import PERMANENT

T = TypeVar("T")


def per_store(stores: Sequence[str], work: Callable[[str], T], *, max_workers: int) -> list[T]:
    """``work(store)`` for every store, in threads (the work mostly waits on the network).

    Every store is attempted even when others fail. Failures end in one
    :class:`dagster.Failure` naming each failed store and its error; it allows a run retry
    only if at least one of them was transient.

    Returns:
        The results, in the order of ``stores``.
    """
    results: dict[str, T] = {}
    failures: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(stores)))) as pool:
        futures = {pool.submit(work, store): store for store in stores}
        for future in as_completed(futures):
            store = futures[future]
            try:
                results[store] = future.result()
            except Exception as exc:
                failures[store] = exc
    if failures:
        retryable = any(
            not isinstance(exc, PERMANENT)
            and not (isinstance(exc, dg.Failure) and not exc.allow_retries)
            for exc in failures.values()
        )
        detail = "; ".join(_named(store, exc) for store, exc in sorted(failures.items()))
        raise dg.Failure(
            description=f"{len(failures)} of {len(stores)} stores failed ({detail})",
            allow_retries=retryable,
        )
    return [results[store] for store in stores]


def _named(store: str, exc: BaseException) -> str:
    """The error's text, led by its store (our errors usually name it already)."""
    text = str(getattr(exc, "description", None) or exc)
    return text if text.startswith(f"store {store}") else f"store {store}: {text}"
