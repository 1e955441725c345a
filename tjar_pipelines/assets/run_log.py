"""The library's log records in the run's log: what the client and the lake say reaches the UI.

The client, the lake and the ingest log to standard ``tjar_pipelines.*`` loggers and know nothing
of Dagster, so a run's page showed none of it: a warning only in the step's raw stderr, and an
INFO line (a store waiting for another run's lock, a scan re-read because the store changed
under it) nowhere. While an asset's stores are synced, :func:`into_run_log` hands those records,
from every thread of the sync, to the run's log at their own level. An instance whose
``python_logs: managed_python_loggers`` already lists ``tjar_pipelines`` (or ``root``) gets
them from Dagster itself, so nothing is added there.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence

LIBRARY = logging.getLogger("tjar_pipelines")
# The parts an asset's work runs; the simulator and the webhook receiver, which tests and the
# demo run in the same process, stay out of the runs' logs.
SOURCES = tuple(
    logging.getLogger(f"tjar_pipelines.{part}") for part in ("client", "lake", "ingest")
)

_lock = threading.Lock()
_active = 0
_saved_levels: list[int] = []


class _ToRunLog(logging.Handler):
    def __init__(self, log: logging.Logger) -> None:
        super().__init__(logging.INFO)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._log.log(record.levelno, record.getMessage(), exc_info=record.exc_info)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def into_run_log(log: logging.Logger, managed: Sequence[str] = ()) -> Iterator[None]:
    """Sends the library's INFO and higher records to ``log`` (``context.log``) during the block.

    ``managed`` is the instance's ``managed_python_loggers``. Thread-safe: the sources' levels
    are lowered to INFO (where higher) while at least one block is open, and put back when the
    last one closes. Blocks open at once (steps run in one process at the same time) each
    receive every record.
    """
    if any(name in ("root", LIBRARY.name) for name in managed):
        yield
        return
    global _active, _saved_levels
    handler = _ToRunLog(log)
    with _lock:
        if _active == 0:
            _saved_levels = [source.level for source in SOURCES]
            for source in SOURCES:
                if source.getEffectiveLevel() > logging.INFO:
                    source.setLevel(logging.INFO)
        _active += 1
        for source in SOURCES:
            source.addHandler(handler)
    try:
        yield
    finally:
        with _lock:
            for source in SOURCES:
                source.removeHandler(handler)
            _active -= 1
            if _active == 0:
                for source, level in zip(SOURCES, _saved_levels, strict=True):
                    source.setLevel(level)
