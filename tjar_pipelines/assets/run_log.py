"""The library's log records in the run's log: what the client and the lake say reaches the UI.

The client, the lake and the ingest log to the standard ``tjar_pipelines.*`` loggers and know
nothing of Dagster, so a run's page showed none of it: a warning only in the step's raw stderr,
and an INFO line (a store waiting for another run's lock, a scan re-read because the store
changed under it) nowhere. While an asset runs, :func:`into_run_log` hands those records, from
every thread the asset starts, to its ``context.log``, at their own level. (Dagster's
``managed_python_loggers`` setting does the same, but from the instance's configuration, which
a code location does not own.)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

LIBRARY = logging.getLogger("tjar_pipelines")

_lock = threading.Lock()
_active = 0
_saved_level = logging.NOTSET


class _ToRunLog(logging.Handler):
    def __init__(self, log: logging.Logger) -> None:
        super().__init__(logging.INFO)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._log.log(record.levelno, record.getMessage())
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def into_run_log(log: logging.Logger) -> Iterator[None]:
    """Sends the library's INFO and higher records to ``log`` for the duration of the block.

    Thread-safe: the library logger's level is lowered to INFO (if it is higher) while at least
    one block is open, and put back when the last one closes. Blocks open at once (steps run in
    one process at the same time) each receive every record.
    """
    global _active, _saved_level
    handler = _ToRunLog(log)
    with _lock:
        if _active == 0:
            _saved_level = LIBRARY.level
            if LIBRARY.getEffectiveLevel() > logging.INFO:
                LIBRARY.setLevel(logging.INFO)
        _active += 1
        LIBRARY.addHandler(handler)
    try:
        yield
    finally:
        with _lock:
            LIBRARY.removeHandler(handler)
            _active -= 1
            if _active == 0:
                LIBRARY.setLevel(_saved_level)
