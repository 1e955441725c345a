"""Work on the stores of one run at the same time, so a slow or failing store holds up no other."""

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import dagster as dg

from tjar_pipelines.assets.failures import PERMANENT

T = TypeVar("T")

INTERRUPTED = "interrupted (Ctrl-C, or the run was terminated)"
# How often the run's thread looks up from waiting for the stores, so that an interrupt is
# acted on at once even where it is only simulated (Dagster terminates runs so on Windows).
_LOOK_UP_S = 0.2


def per_store(stores: Sequence[str], work: Callable[[str], T], *, max_workers: int) -> list[T]:
    """``work(store)`` for every store, in threads (the work mostly waits on the network).

    Every store is attempted even when others fail. Failures end in one
    :class:`dagster.Failure` naming each failed store and its error; it allows a run retry
    only if at least one of them was transient.

    When the run is terminated (an interrupt in the run's thread), no other store starts and
    the step fails at once, not retried, as ``INTERRUPTED``: the stores' threads are daemons,
    left to end with the run's process, which is as safe as a killed run (each slice is
    replaced in one atomic step, and what a spool left behind is swept). A thread pool would
    hold the run until every store was done, an hour if one was waiting for another run's
    lock on it.

    Returns:
        The results, in the order of ``stores``.
    """
    results: dict[str, T] = {}
    failures: dict[str, BaseException] = {}
    todo = list(reversed(stores))
    taking = threading.Lock()
    done: queue.SimpleQueue[tuple[str, T | None, BaseException | None]] = queue.SimpleQueue()

    def worker() -> None:
        while True:
            with taking:
                if not todo:
                    return
                store = todo.pop()
            try:
                done.put((store, work(store), None))
            except BaseException as exc:  # reported to the run's thread, which decides
                done.put((store, None, exc))

    try:
        for n in range(max(1, min(max_workers, len(stores)))):
            threading.Thread(target=worker, name=f"tjar-store-{n}", daemon=True).start()
        for _ in stores:
            while True:
                try:
                    store, result, exc = done.get(timeout=_LOOK_UP_S)
                    break
                except queue.Empty:
                    continue
            if exc is None:
                results[store] = cast(T, result)
            elif isinstance(exc, Exception):
                failures[store] = exc
            else:
                raise exc
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as exc:
        with taking:
            todo.clear()
        # Dagster retries a step stopped by an interrupt if the step has a retry policy (ours
        # do, for transient errors): the run's stores would be synced again, Ctrl-C ignored.
        raise dg.Failure(description=INTERRUPTED, allow_retries=False) from exc
    except BaseException:
        with taking:
            todo.clear()
        raise
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
