"""What the client and the lake log reaches the run's log in Dagster, and the sync's output."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

from tjar_pipelines.assets.run_log import LIBRARY, into_run_log
from tjar_pipelines.cli import main
from tjar_pipelines.simulator import Faults
from tjar_pipelines_tests.conftest import sim_config

FIRST, LAST = dt.date(2026, 4, 25), dt.date(2026, 5, 2)
UNDATED = Faults(drop_created_at_rate=0.2)


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def test_records_of_any_thread_reach_the_run_log_at_their_level_while_the_block_runs():
    run_log = logging.getLogger("a_run")
    run_log.propagate = False
    run_log.setLevel(logging.DEBUG)  # as context.log is
    kept = Kept()
    run_log.addHandler(kept)
    library = logging.getLogger("tjar_pipelines.client.retrying")
    level = LIBRARY.level
    try:
        library.info("before")
        with into_run_log(run_log):
            worker = threading.Thread(target=library.info, args=("store %s: waiting", "acme"))
            worker.start()
            worker.join()
            library.warning("store acme: retrying")
            library.debug("too fine")
        library.warning("after")
    finally:
        run_log.removeHandler(kept)
    assert kept.lines == [
        (logging.INFO, "store acme: waiting"),
        (logging.WARNING, "store acme: retrying"),
    ]
    assert LIBRARY.level == level


def test_an_orders_run_shows_the_ingest_warnings_in_its_log(pipeline):
    p = pipeline(sim_config(faults=UNDATED))
    result = p.sync_orders("acme", FIRST, LAST)
    assert result.success
    logged = [
        (entry.level, entry.user_message)
        for entry in p.instance.all_logs(result.run_id)
        if entry.dagster_event is None
    ]
    warnings = [text for level, text in logged if level == logging.WARNING]
    assert any(
        text.startswith("store acme: ") and "came without created_at" in text for text in warnings
    ), logged
    assert "sim-key-acme" not in repr(logged)


def test_a_run_waiting_for_another_runs_lock_says_so_in_its_log(pipeline, monkeypatch):
    from tjar_pipelines import ingest
    from tjar_pipelines.lake.files import Lake

    p = pipeline()
    waiting, results = threading.Event(), []
    say_waiting = ingest._waiting

    def spied(store: str, what: str) -> None:
        say_waiting(store, what)
        waiting.set()

    monkeypatch.setattr(ingest, "_waiting", spied)
    run = threading.Thread(target=lambda: results.append(p.sync_orders("acme", FIRST, FIRST)))
    with Lake(p.data_dir).syncing("orders", "acme"):  # another run's sync of the store
        run.start()
        assert waiting.wait(60)
    run.join(60)
    [result] = results
    assert result.success
    infos = [
        entry.user_message
        for entry in p.instance.all_logs(result.run_id)
        if entry.dagster_event is None and entry.level == logging.INFO
    ]
    assert "store acme: another run is syncing its orders; waiting for it to finish" in infos


@pytest.mark.parametrize("faults", [None, UNDATED])
def test_sync_prints_each_runs_warnings_under_it(pipeline, capsys, faults):
    pipeline(sim_config(faults=faults or Faults()))
    code = main(["sync", "--from", str(FIRST), "--to", str(LAST), "--assets", "orders"])
    out = capsys.readouterr().out
    assert code == 0, out
    warned = [line for line in out.splitlines() if line.startswith("    warning: ")]
    if faults:
        assert any("store acme: " in line and "without created_at" in line for line in warned)
    else:
        assert warned == []
