"""`tjar-pipelines sync` as an operator runs it."""

from __future__ import annotations

import datetime as dt

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
    out = capsys.readouterr().out
    assert "FAILED" in out and "TJAR_ACME_API_KEY" in out and "store acme" in out
    assert main(["sync", "--store", "nope"]) == 2
    assert "'nope' is not in the store registry" in capsys.readouterr().err
    assert main(["sync", "--assets", "orders,customers"]) == 2
    assert "unknown assets ['customers']" in capsys.readouterr().err


def test_webhooks_register_and_list(pipeline, capsys, tmp_path):
    p = pipeline()
    secret_file = tmp_path / "acme.secret"
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
