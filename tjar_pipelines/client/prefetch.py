"""The thread that asks for the next page while the current one is parsed.

Like a one-worker ``ThreadPoolExecutor``, but its thread is a daemon: a request it has under
way, with its retries and a ``Retry-After`` wait of up to five minutes, never keeps a
terminated run's process alive (an executor's threads are joined when the interpreter exits).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class Prefetcher:
    """Runs the calls submitted to it one after the other on its own daemon thread."""

    def __init__(self, name: str = "tjar-prefetch") -> None:
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._name = name
        self._thread: threading.Thread | None = None

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        """Queues ``call(*args)``; the future holds its result or its exception."""
        future: Future[T] = Future()
        self._calls.put((future, call, args))
        if self._thread is None:  # started on first use: most lists are one page
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
        return future

    def shutdown(self) -> None:
        """Cancels the calls not begun; the one under way ends on its own, unwaited for."""
        while True:
            try:
                item = self._calls.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item[0].cancel()
        self._calls.put(_STOP)

    def _work(self) -> None:
        while (item := self._calls.get()) is not _STOP:
            future, call, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
