"""`tjar-pipelines sync` as an operator runs it."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tjar_pipelines.cli import main
from tjar_pipelines_tests.conftest import expected_ids, sim_config, spec


def test_sync_selected_store_range_and_assets(pipeline, capsys):
    p = pipeline(sim_config(spec("acme"), spec("zen")))
    code = main(
        [
            "sync",
            "--store",
            "zen",
            "--from",
            "2026-04-20",
            "--to",
            "2026-05-11",
            "--assets",
            "orders,order_items,products",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 of 2 runs succeeded" in out
    # One line per run as it goes: stores, days, rows per table, seconds.
    assert re.search(
        r"^\[1/2\] zen +orders_job +2026-04-20\.\.2026-05-11  ok  orders \d+, "
        r"order_items \d+ \(\d+\.\ds\)$",
        out,
        re.MULTILINE,
    ), out
    assert re.search(r"^\[2/2\] zen +products_job +ok  products 25 \(\d+\.\ds\)$", out, re.M), out
    expected = expected_ids(p.server, "zen", dt.date(2026, 4, 20), dt.date(2026, 5, 11))
    summary = [line for line in out.splitlines() if line.startswith("zen ")][-1].split()
    assert summary[1:] == [str(len(expected)), summary[2], "25"]
    assert p.query("SELECT DISTINCT store FROM orders") == [("zen",)]


def test_sync_of_everything_by_default(pipeline, capsys, monkeypatch):
    p = pipeline()
    assert main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "acme" in out and "daily_sales" in out
    # from start_date (2026-04-01) to today: two runs of at most 31 days for orders, and more
    [(n,)] = p.query("SELECT count(*) FROM orders")
    assert n == len(expected_ids(p.server, "acme", dt.date(2026, 4, 1), dt.date.today()))


def test_sync_fails_clearly(pipeline, capsys, monkeypatch):
    pipeline()
    monkeypatch.delenv("TJAR_ACME_API_KEY")
    assert main(["sync", "--assets", "products"]) == 1
    captured = capsys.readouterr()
    [failed] = [line for line in captured.out.splitlines() if "FAILED" in line]
    assert failed.startswith("[1/1] acme")
    assert "Failure: " in failed and "TJAR_ACME_API_KEY" in failed and "store acme" in failed
    assert "dagster._core" not in failed
    assert "Stack Trace" not in captured.err and "Traceback" not in captured.err
    assert "0 of 1 runs succeeded" in captured.out
    # --verbose lets Dagster's log of the failed step through, with its stack trace.
    assert main(["sync", "--assets", "products", "--verbose"]) == 1
    assert "Stack Trace" in capsys.readouterr().err
    for argv, message in [
        (["sync", "--store", "nope"], "'nope' is not in the store registry"),
        (["sync", "--assets", "orders,customers"], "unknown assets ['customers']"),
        (["sync", "--from", "2026-05-02", "--to", "2026-05-01"], "is after --to 2026-05-01"),
    ]:
        assert main(argv) == 2
        captured = capsys.readouterr()
        [line] = captured.err.strip().splitlines()
        assert line.startswith("tjar-pipelines sync: ") and message in line
        assert captured.out == ""


def test_neighbouring_stores_show_as_a_range(pipeline, capsys):
    pipeline(sim_config(spec("acme"), spec("zen")))
    assert main(["sync", "--assets", "products"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[1/1\] acme\.\.zen products_job +ok  products 50 ", out, re.M), out
    assert re.search(r"^acme +25$", out, re.M) and re.search(r"^zen +25$", out, re.M), out


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "readable-file"])
def test_webhooks_register_and_list(pipeline, capsys, tmp_path, existing):
    """The secret file ends at mode 600, also when it was there before and readable by all."""
    p = pipeline()
    secret_file = tmp_path / "acme.secret"
    if existing:
        secret_file.write_text("an old secret, longer than the new one\n")
        secret_file.chmod(0o644)
    code = main(
        [
            "webhooks",
            "register",
            "--store",
            "acme",
            "--url",
            "https://hooks.example.sa/webhooks/tjar/acme",
            "--event",
            "order.created",
            "--event",
            "order.status.updated",
            "--secret-file",
            str(secret_file),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    [hook] = p.server.simulator.stores["acme"].webhooks.values()
    assert hook["events"] == ["order.created", "order.status.updated"]
    assert secret_file.read_text().strip() == hook["secret"]
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert hook["secret"] not in out and "TJAR_ACME_WEBHOOK_SECRET" in out
    assert main(["webhooks", "list", "--store", "acme"]) == 0
    listed = capsys.readouterr().out
    assert "https://hooks.example.sa/webhooks/tjar/acme" in listed and hook["secret"] not in listed
    assert main(["webhooks", "dead-letters"]) == 0
    assert "no dead letters" in capsys.readouterr().out


def test_plan_groups_neighbouring_stores():
    from tjar_pipelines.stores import parse_registry
    from tjar_pipelines.sync import plan

    registry = parse_registry(
        {
            "stores": [
                {"slug": s, "domain": f"{s}.sa", "api_key_env": "K", "start_date": "2026-05-01"}
                for s in ("a", "b", "c", "d")
            ]
        }
    )
    now = dt.datetime(2026, 5, 10, tzinfo=dt.UTC)
    steps = plan(registry, ["d", "a", "b"], {"orders", "products"}, None, None, now)
    assert [(s.stores, s.job) for s in steps] == [
        (("a", "b"), "orders_job"),
        (("a", "b"), "products_job"),
        (("d",), "orders_job"),
        (("d",), "products_job"),
    ]
    assert plan(registry, [], {"orders"}, None, None, now) == []


@pytest.mark.parametrize(
    ("days", "runs"),
    [(1, [1]), (31, [31]), (33, [33]), (37, [37]), (38, [31, 7]), (62, [31, 31]), (66, [31, 35])],
)
def test_runs_are_months_and_a_short_tail_joins_the_last(days, runs):
    from tjar_pipelines.ingest import windows

    first = dt.date(2026, 1, 1)
    cuts = windows(first, first + dt.timedelta(days=days - 1), 31)
    assert [(b - a).days + 1 for a, b in cuts] == runs
    assert cuts[0][0] == first and all(
        b + dt.timedelta(days=1) == c for (_, b), (c, _) in itertools.pairwise(cuts)
    )


def test_only_a_throwaway_instance_gets_one_planned_event_per_asset(
    pipeline, monkeypatch, tmp_path
):
    import os

    import dagster as dg

    pipeline()
    args = ["sync", "--from", "2026-05-01", "--to", "2026-05-03", "--assets", "orders"]
    made: list[dg.DagsterInstance] = []
    ephemeral = dg.DagsterInstance.ephemeral

    def kept_ephemeral(*a, **kw):
        made.append(ephemeral(*a, **kw))
        return made[-1]

    monkeypatch.setattr(dg.DagsterInstance, "ephemeral", staticmethod(kept_ephemeral))
    assert main(args) == 0

    def planned(instance: dg.DagsterInstance) -> list[str | None]:
        kind = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        events = [
            entry.dagster_event
            for run in instance.get_runs()
            for entry in instance.all_logs(run.run_id, of_type=kind)
        ]
        return sorted(
            event.event_specific_data.partition  # type: ignore[union-attr]
            for event in events
            if event and event.asset_key == dg.AssetKey("orders")
        )

    [throwaway] = made
    assert planned(throwaway) == [None]  # one event for the run's three days
    assert "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS" not in os.environ

    # A real instance keeps one per partition: they mark a failed run's partitions as failed.
    home = tmp_path / "dagster-home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(args) == 0
    with dg.DagsterInstance.get() as real:
        assert planned(real) == [f"2026-05-0{d}|acme" for d in (1, 2, 3)]


def retrying() -> dict[str, str]:
    """The environment with the shipped default of run retries: Dagster would retry an
    interrupted step, were it not made final (the suite's conftest turns retries off)."""
    return {**os.environ, "TJAR_RUN_RETRIES": "2"}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/<pid>/fd")
def test_an_interrupted_sync_stops_at_once_while_a_store_waits_for_another_runs_lock(pipeline):
    """Ctrl-C, or Dagster terminating the run, while the store waits for another run's lock on
    it: the process ends at once, not when the other run lets go (up to an hour)."""
    from tjar_pipelines.lake.files import Lake

    p = pipeline()
    lock = p.data_dir / "locks" / "orders-acme.lock"
    script = Path(sys.executable).with_name("tjar-pipelines")
    argv = [str(script), "sync", "--from", "2026-05-01", "--to", "2026-05-01"]
    argv += ["--assets", "orders,products"]
    with Lake(p.data_dir).syncing("orders", "acme"):  # another run's sync of the store
        code, out = _interrupted_once(
            argv,
            retrying(),
            lambda pid: _has_open(pid, lock),
            "the sync never reached the store's lock",
        )
    assert code == 130, out
    assert re.search(
        r"^\[1/2\] acme +orders_job .* FAILED \(\d+\.\ds\): interrupted ", out, re.M
    ), out
    assert "[2/2]" not in out, out  # the products run is not started
    summary = r"^0 of 2 runs succeeded in \d+\.\ds; interrupted, 1 not started$"
    assert re.search(summary, out, re.M), out
    assert "Traceback" not in out, out


def test_an_interrupted_sync_stops_at_once_while_a_page_waits_out_a_retry_after(pipeline):
    """Ctrl-C while the next page's request waits out the store's ``Retry-After`` (here 200 s):
    the process ends at once, not when the wait is over."""
    from tjar_pipelines.simulator import Faults

    p = pipeline(sim_config(faults=Faults(rate_limit=1, rate_window=200)))
    stats = p.server.simulator.stats
    script = Path(sys.executable).with_name("tjar-pipelines")
    argv = [str(script), "sync", "--from", "2026-04-25", "--to", "2026-05-02"]
    argv += ["--assets", "orders"]
    # Two pages: the second is the one fetched ahead, on the prefetcher's thread.
    assert len(expected_ids(p.server, "acme", dt.date(2026, 4, 25), dt.date(2026, 5, 2))) > 100
    # The client counts the store's limit over 1 s, so it asks for page 2 before the store's
    # 200-second window ends and is told to wait.
    env = {**retrying(), "TJAR_RATE_LIMIT_WINDOW": "1"}
    code, out = _interrupted_once(
        argv, env, lambda pid: stats["429"], "the store never answered 429"
    )
    assert code == 130, out
    assert "FAILED" in out and "interrupted" in out, out


def _interrupted_once(
    argv: list[str], env: dict[str, str], ready: Callable[[int], object], never: str
) -> tuple[int, str]:
    """Starts ``argv``, sends it SIGINT once ``ready(pid)``, and gives its exit code and output.

    The process must end within 30 s of the signal; it is killed (by its PID) whatever happens.
    """
    sync = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not ready(sync.pid) and sync.poll() is None:
            assert time.monotonic() < deadline, never
            time.sleep(0.05)
        sync.send_signal(signal.SIGINT)
        out, _ = sync.communicate(timeout=30)
    finally:
        sync.kill()
        sync.wait(10)
    return sync.returncode, out


def _has_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` holds ``path`` open."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if Path(os.readlink(fd)) == path.resolve():
                return True
        except OSError:
            continue
    return False
