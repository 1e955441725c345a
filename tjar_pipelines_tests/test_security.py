"""Recognisable secrets through a whole sync and webhook round trip: they show up nowhere."""

from __future__ import annotations

import datetime as dt
import json
import logging

import dagster as dg
import httpx

from tjar_pipelines.serving import ThreadedServer
from tjar_pipelines.webhooks.receiver import create_app
from tjar_pipelines.webhooks.signature import SignatureScheme
from tjar_pipelines_tests.conftest import sim_config, spec

KEY = "tjar_sk_LEAKCANARY_7c1d9e2f"
SECRET = "whsec_LEAKCANARY_a4b8c2d6"
REVOKED = "tjar_sk_LEAKCANARY_revoked_0000"


def test_secrets_never_leave_the_process(pipeline, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    p = pipeline(sim_config(spec("acme", api_key=KEY, webhook_secret=SECRET)))
    day = dt.date(2026, 5, 2)
    results = [
        p.sync_orders("acme", day - dt.timedelta(days=3), day),
        p.sync_store_job("products_job", "acme"),
        p.sync_store_job("sales_job", "acme"),
    ]
    assert all(r.success for r in results)
    monkeypatch.setenv("TJAR_ACME_API_KEY", REVOKED)  # the key is revoked: runs fail, loudly
    failed = p.sync_orders("acme", day, day, raise_on_error=False)
    assert not failed.success
    with ThreadedServer(create_app(p.registry(), p.settings().queue_path)) as receiver:
        body = json.dumps(
            {
                "id": "d1",
                "event": "order.updated",
                "data": {"identifier": 1001, "created_at": "2026-05-02 10:00:00"},
            }
        ).encode()
        headers = {"X-Tjar-Signature": SignatureScheme().sign(SECRET, body)}
        assert (
            httpx.post(
                f"{receiver.url}/webhooks/tjar/acme", content=body, headers=headers
            ).status_code
            == 200
        )
        assert (
            httpx.post(
                f"{receiver.url}/webhooks/tjar/acme", content=body + b" ", headers=headers
            ).status_code
            == 401
        )
    defs = p.defs()
    with dg.build_sensor_context(
        instance=p.instance, repository_def=defs.get_repository_def()
    ) as context:
        tick = defs.resolve_sensor_def("tjar_webhook_sensor")(context)
    assert isinstance(tick, dg.SensorResult) and tick.run_requests

    texts = [caplog.text, *capsys.readouterr()]
    for record in p.instance.get_run_records():
        texts += [repr(entry) for entry in p.instance.all_logs(record.dagster_run.run_id)]
    texts += [repr(r.all_events) for r in [*results, failed]]
    files = [f for f in p.data_dir.rglob("*") if f.is_file()]
    assert any(f.suffix == ".parquet" for f in files) and any(
        f.name == "webhooks.sqlite3" for f in files
    )
    blobs = [f.read_bytes() for f in files]
    for secret in (KEY, SECRET, REVOKED):
        assert not any(secret in text for text in texts), secret
        assert not any(secret.encode() in blob for blob in blobs), secret
    assert "TJAR_ACME_API_KEY" in repr(failed.all_events)  # the failure names the variable
