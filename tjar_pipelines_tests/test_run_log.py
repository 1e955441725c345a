"""What the client and the lake log reaches the run's log in Dagster, and the sync's output."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

from tjar_pipelines.assets.run_log import SOURCES, into_run_log
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
    run_log = logging.Logger("a_run", logging.DEBUG)  # as context.log is: it takes every level
    kept = Kept()
    run_log.addHandler(kept)
    library = logging.getLogger("tjar_pipelines.client.retrying")
    levels = [source.level for source in SOURCES]
    library.info("before")
    with into_run_log(run_log):
        worker = threading.Thread(target=library.info, args=("store %s: waiting", "acme"))
        worker.start()
        worker.join()
        library.warning("store acme: retrying")
        library.debug("too fine")
        logging.getLogger("tjar_pipelines.simulator").warning("the simulator's own")
    library.warning("after")
    assert kept.lines == [
        (logging.INFO, "store acme: waiting"),
        (logging.WARNING, "store acme: retrying"),
    ]
    assert [source.level for source in SOURCES] == levels


def test_nothing_is_forwarded_where_dagster_already_manages_the_library_logger():
    run_log = logging.Logger("a_run", logging.DEBUG)
    kept = Kept()
    run_log.addHandler(kept)
    for managed in (["tjar_pipelines"], ["root"]):
        with into_run_log(run_log, managed):
            logging.getLogger("tjar_pipelines.ingest").warning("store acme: once")
    assert kept.lines == []


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


def test_an_instance_managing_the_library_logger_gets_each_record_once(pipeline):
    import dagster as dg

    p = pipeline(sim_config(faults=UNDATED))
    managed = {"python_logs": {"managed_python_loggers": ["tjar_pipelines"]}}
    p.instance = dg.DagsterInstance.ephemeral(settings=managed)
    result = p.sync_orders("acme", FIRST, LAST)
    assert result.success
    undated = [
        entry.user_message
        for entry in p.instance.all_logs(result.run_id)
        if entry.dagster_event is None and "came without created_at" in entry.user_message
    ]
    assert len(undated) == 1, undated


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
    try:
        with Lake(p.data_dir).syncing("orders", "acme"):  # another run's sync of the store
            run.start()
            assert waiting.wait(60)
    finally:
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


def test_sync_verbose_leaves_the_warnings_to_dagsters_log(pipeline, capsys):
    pipeline(sim_config(faults=UNDATED))
    code = main(["sync", "--from", str(FIRST), "--to", str(LAST), "--assets", "orders", "-v"])
    out, err = capsys.readouterr()
    assert code == 0, out
    assert "    warning: " not in out
    assert (out + err).count("came without created_at") == 1, out + err
