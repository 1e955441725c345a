"""The simulator itself: the console script, §15 answers, determinism, live mode and webhooks."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tjar_pipelines.simulator import LiveMode, Simulator
from tjar_pipelines.simulator.live import sign
from tjar_pipelines_tests.conftest import sim_client, sim_config, spec


class Receiver:
    """A plain webhook endpoint on 127.0.0.1 that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"only {len(self.received)} deliveries arrived"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_console_script_serves_and_stops(tmp_path):
    script = Path(sys.executable).with_name("tjar-pipelines")
    proc = subprocess.Popen(
        [str(script), "simulator", "--port", "0", "--stores", "2", "--orders", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Tjar simulator listening on http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        headers = {"Authorization": "Bearer sim-key-demo-2", "Accept-Language": "en"}
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"{url}/s/demo-2/api/core/v1/orders?per_page=5", headers=headers
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        body = response.json()
        assert response.status_code == 200
        assert body["status"] == "success" and len(body["data"]["orders"]) == 5
        assert body["data"]["pagination"]["total"] == 60
        other = httpx.get(f"{url}/s/demo-1/api/core/v1/orders", headers=headers)
        assert other.status_code == 401 and other.json() == {
            "status": "error",
            "message": "Unauthenticated.",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_answers_follow_section_15(simulator):
    server = simulator(sim_config(max_per_page=50))
    base = server.base_url("acme")
    auth = {"Authorization": "Bearer sim-key-acme"}
    with httpx.Client(headers=auth) as http:
        plain = http.get(f"{base}/orders", params={"per_page": 500}).json()
        assert plain["message"] == "تم استرجاع طلبات المنتجات بنجاح"  # no Accept-Language: Arabic
        assert plain["data"]["pagination"]["per_page"] == 50  # silently clamped
        rows = plain["data"]["orders"]
        keys = [(r["created_at"], r["identifier"]) for r in rows]
        assert keys == sorted(keys, reverse=True)  # newest first, then identifier descending
        english = http.get(f"{base}/products", headers={"Accept-Language": "en"}).json()
        assert english["message"] == "Products retrieved successfully"
        bad = http.get(f"{base}/orders", params={"date_from": "10/05/2026"})
        assert bad.status_code == 422 and set(bad.json()["errors"]) == {"date_from"}
        assert http.get(f"{base}/orders", params={"per_page": "x"}).status_code == 422
        assert http.get(f"{base}/orders/1").json() == {"status": "error", "message": "Not found"}
        assert http.get(server.base_url("nope") + "/orders").status_code == 404
        assert http.get(f"{base}/orders", headers={"Authorization": "Bearer x"}).status_code == 401


def test_data_is_deterministic_and_realistic():
    config = sim_config(spec(orders=400))
    one, two = Simulator(config).stores["acme"], Simulator(config).stores["acme"]
    assert one.created == two.created
    orders = [one.order(p, "en") for p in range(400)]
    assert orders == [two.order(p, "en") for p in range(400)]
    lines = [line for o in orders for line in o["order_details"]]
    assert any(line["options"]["is_booking"] for line in lines)
    assert {line["type"] for line in lines} >= {1, 2, 3, 4}
    assert any(line["options"]["product_options"] for line in lines)
    assert any(o["coupon"] is None for o in orders) and any(o["coupon"] for o in orders)
    assert any(o["city"] is None for o in orders) and any(
        o["transaction_id"] is None for o in orders
    )
    statuses = {o["status"]["value"] for o in orders}
    assert (
        statuses <= {"Pending", "Processing", "Shipped", "Delivered", "Cancelled"}
        and len(statuses) >= 4
    )
    local_times = [dt.time.fromisoformat(o["created_at"][11:]) for o in orders]
    assert any(t >= dt.time(23, 45) or t < dt.time(0, 15) for t in local_times)


def test_live_mode_changes_stores_and_sends_signed_webhooks(simulator, receiver):
    live = LiveMode(
        interval=0.05,
        webhook_url=f"{receiver.url}/hooks/{{slug}}",
        duplicate_rate=0.3,
        product_share=0.3,
    )
    server = simulator(sim_config(spec("acme"), spec("zen", timezone="Asia/Dubai"), live=live))
    receiver.wait_for(30)
    ids_seen = set()
    products_seen = False
    for delivery in list(receiver.received):
        slug = delivery["path"].rsplit("/", 1)[1]
        store = server.simulator.stores[slug]
        body, headers = delivery["body"], delivery["headers"]
        assert headers["X-Tjar-Signature"] == sign(f"sim-whsec-{slug}", body)
        assert headers["X-Tjar-Signature"].startswith("sha256=")
        payload = json.loads(body)
        assert set(payload) == {"id", "event", "store", "created_at", "data"}
        assert (
            headers["X-Tjar-Delivery"] == payload["id"]
            and headers["X-Tjar-Event"] == payload["event"]
        )
        assert payload["event"] in {
            "order.created",
            "order.status.updated",
            "order.cancelled",
            "product.updated",
        }
        assert payload["store"] == f"{slug}.tjar.test"
        ids_seen.add(payload["id"])
        if payload["event"] == "product.updated":
            assert store.product_index(payload["data"]["identifier"]) is not None
            products_seen = True
        else:
            assert payload["data"]["order_details"] is not None
            assert store.position(payload["data"]["identifier"]) is not None
    assert len(ids_seen) < len(receiver.received), "some deliveries are sent twice"
    assert products_seen
    with sim_client(server, "acme", now=dt.datetime.now(dt.UTC)) as client:
        day = client.store_today()
        fresh = {o.identifier for o in client.iter_orders(day - dt.timedelta(days=400), day)}
    acme_created = {
        str(json.loads(d["body"])["data"]["identifier"])
        for d in receiver.received
        if d["path"].endswith("/acme") and json.loads(d["body"])["event"] == "order.created"
    }
    assert acme_created and acme_created <= fresh


def test_registered_webhooks_get_their_own_secret(simulator, receiver):
    live = LiveMode(interval=0.05, new_order_share=1.0, product_share=0.0)
    server = simulator(sim_config(live=live))
    with sim_client(server) as client:
        hook = client.register_webhook(
            name="mine", url=f"{receiver.url}/mine", events=["order.created"]
        )
    receiver.wait_for(2)
    assert hook.secret is not None
    for delivery in receiver.received:
        assert delivery["path"] == "/mine"
        assert delivery["headers"]["X-Tjar-Signature"] == sign(
            hook.secret.reveal(), delivery["body"]
        )
