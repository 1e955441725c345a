"""The webhook receiver over real HTTP: every answer, and nothing rejected is stored."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest

from tjar_pipelines.serving import ThreadedServer
from tjar_pipelines.stores import parse_registry
from tjar_pipelines.webhooks.queue import WebhookQueue
from tjar_pipelines.webhooks.receiver import MAX_BODY, create_app
from tjar_pipelines.webhooks.signature import SignatureScheme

SECRET = "whsec_5e3cr3t_value_for_tests"
HEX = SignatureScheme()
B64 = SignatureScheme(header="X-Signature", prefix="", encoding="base64")


@pytest.fixture
def receiver(tmp_path, monkeypatch):
    monkeypatch.setenv("TJAR_ACME_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TJAR_ZEN_WEBHOOK_SECRET", "zen-secret")
    registry = parse_registry(
        {
            "stores": [
                {
                    "slug": "acme",
                    "domain": "acme.tjar.sa",
                    "api_key_env": "K1",
                    "webhook_secret_env": "TJAR_ACME_WEBHOOK_SECRET",
                },
                {
                    "slug": "zen",
                    "domain": "zen.sa",
                    "api_key_env": "K2",
                    "webhook_secret_env": "TJAR_ZEN_WEBHOOK_SECRET",
                    "webhook_signature_header": "X-Signature",
                    "webhook_signature_prefix": "",
                    "webhook_signature_encoding": "base64",
                },
                {
                    "slug": "nosecret",
                    "domain": "n.sa",
                    "api_key_env": "K3",
                    "webhook_secret_env": "TJAR_UNSET_WEBHOOK_SECRET",
                },
            ]
        }
    )
    queue_path = tmp_path / "webhooks.sqlite3"
    with ThreadedServer(create_app(registry, queue_path)) as server:
        yield server, queue_path


def delivery(event: str = "order.status.updated", **overrides) -> dict:
    body = {
        "id": str(uuid.uuid4()),
        "event": event,
        "store": "acme.tjar.sa",
        "created_at": "2026-05-10 12:00:00",
        "data": {
            "identifier": 1001,
            "created_at": "2026-05-09 23:59:59",
            "status": {"value": "Shipped"},
        },
    }
    body.update(overrides)
    return body


def post(server: ThreadedServer, slug: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/webhooks/tjar/{slug}", content=raw, headers=headers)


def signed(
    body: dict, secret: str = SECRET, scheme: SignatureScheme = HEX
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return raw, {scheme.header: scheme.sign(secret, raw), "X-Tjar-Delivery": str(body.get("id"))}


def stored(queue_path: Path) -> list[tuple[str, str]]:
    with WebhookQueue(queue_path) as queue:
        return [(e.store, e.delivery_id) for e in queue.read_after(0)]


def test_signed_delivery_is_stored_once_even_when_replayed(receiver):
    server, queue_path = receiver
    body = delivery()
    raw, headers = signed(body)
    first = post(server, "acme", raw, headers)
    again = post(server, "acme", raw, headers)
    assert (first.status_code, first.json()["status"]) == (200, "stored")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert stored(queue_path) == [("acme", body["id"])]


def test_base64_scheme_per_store(receiver):
    server, _ = receiver
    raw, headers = signed(delivery(), secret="zen-secret", scheme=B64)
    assert post(server, "zen", raw, headers).status_code == 200
    raw, headers = signed(delivery(), secret="zen-secret")  # hex in the default header: refused
    assert post(server, "zen", raw, headers).status_code == 401


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("tampered", 401),
        ("wrong_secret", 401),
        ("no_signature", 401),
        ("unknown_store", 404),
        ("oversize", 413),
        ("not_json", 400),
        ("no_id", 400),
        ("no_event", 400),
        ("data_not_object", 400),
        ("no_secret_configured", 503),
    ],
)
def test_rejections_store_nothing(receiver, caplog, case, status):
    server, queue_path = receiver
    caplog.set_level(logging.WARNING, logger="tjar_pipelines.webhooks")
    slug = "acme"
    raw, headers = signed(delivery())
    if case == "tampered":
        raw = raw.replace(b"Shipped", b"Pending")
    elif case == "wrong_secret":
        raw, headers = signed(delivery(), secret="not-the-secret")
    elif case == "no_signature":
        headers = {}
    elif case == "unknown_store":
        slug = "nope"
    elif case == "oversize":
        raw, headers = signed(delivery(data={"pad": "x" * MAX_BODY}))
    elif case == "not_json":
        raw = b"{not json"
        headers = {HEX.header: HEX.sign(SECRET, raw)}
    elif case in ("no_id", "no_event", "data_not_object"):
        body = delivery()
        if case == "no_id":
            del body["id"]
        elif case == "no_event":
            del body["event"]
        else:
            body["data"] = [1, 2]
        raw, headers = signed(body)
    elif case == "no_secret_configured":
        slug = "nosecret"
    response = post(server, slug, raw, headers)
    assert response.status_code == status
    assert stored(queue_path) == []
    health = httpx.get(f"{server.url}/healthz").json()
    assert sum(health["counts"].values()) == 1
    assert SECRET not in caplog.text and "Shipped" not in caplog.text


def test_an_unknown_store_in_the_path_cannot_forge_log_lines(receiver, caplog):
    """The path's slug is the sender's text: logged quoted, so an encoded newline stays inside
    the one line of the rejection instead of starting a line of its own."""
    server, queue_path = receiver
    caplog.set_level(logging.WARNING, logger="tjar_pipelines.webhooks")
    forged = "x%0AWARNING tjar_pipelines.webhooks: webhook rejected: bad_signature store=acme"
    response = post(server, forged, b"{}", {})
    assert response.status_code == 404 and stored(queue_path) == []
    [record] = [r for r in caplog.records if "unknown_store" in r.getMessage()]
    assert "\n" not in record.getMessage() and "'x\\nWARNING" in record.getMessage()


def test_healthz_counts(receiver):
    server, _ = receiver
    raw, headers = signed(delivery())
    post(server, "acme", raw, headers)
    post(server, "acme", raw, headers)
    post(server, "acme", raw, {})
    assert httpx.get(f"{server.url}/healthz").json()["counts"] == {
        "stored": 1,
        "duplicate": 1,
        "bad_signature": 1,
    }


def test_sigkill_loses_no_acknowledged_delivery(tmp_path):
    """Deliveries keep coming while the receiver process is SIGKILLed: every 2xx is stored."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    import yaml

    (tmp_path / "stores.yaml").write_text(
        yaml.safe_dump(
            {
                "stores": [
                    {
                        "slug": "acme",
                        "domain": "acme.tjar.sa",
                        "api_key_env": "K",
                        "webhook_secret_env": "TJAR_ACME_WEBHOOK_SECRET",
                    }
                ]
            }
        )
    )
    env = {
        **os.environ,
        "TJAR_STORES_FILE": str(tmp_path / "stores.yaml"),
        "TJAR_DATA_DIR": str(tmp_path / "data"),
        "TJAR_ACME_WEBHOOK_SECRET": SECRET,
    }
    script = Path(sys.executable).with_name("tjar-pipelines")
    proc = subprocess.Popen(
        [str(script), "webhooks", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: list[str] = []
    stop = threading.Event()
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[4]

        def send() -> None:
            with httpx.Client(timeout=5) as http:
                while not stop.is_set():
                    body = delivery()
                    raw, headers = signed(body)
                    try:
                        response = http.post(
                            f"{url}/webhooks/tjar/acme", content=raw, headers=headers
                        )
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 200:
                        acked.append(body["id"])

        senders = [threading.Thread(target=send) for _ in range(4)]
        for sender in senders:
            sender.start()
        while len(acked) < 200:
            threading.Event().wait(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for sender in senders:
            sender.join(timeout=30)
    finally:
        stop.set()
        proc.kill()
        proc.wait(timeout=10)
    with WebhookQueue(tmp_path / "data" / "webhooks.sqlite3") as queue:
        ids = {d for _, d in queue.delivery_ids()}
    assert len(acked) >= 200 and set(acked) <= ids


@pytest.mark.parametrize(
    ("case", "status", "stored_count"),
    [
        ("deeply_nested", 400, 0),
        ("invalid_utf8", 400, 0),
        ("text_plain_content_type", 200, 1),  # the signature, not the header, vouches for the body
        ("no_headers_at_all", 401, 0),
        ("other_stores_signature", 401, 0),
        ("empty_body", 401, 0),
        ("signed_empty_body", 400, 0),
    ],
)
def test_bad_input_table(receiver, case, status, stored_count):
    server, queue_path = receiver
    slug = "acme"
    raw, headers = signed(delivery())
    if case == "deeply_nested":
        raw = b'{"id":"x","event":"order.created","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        headers = {HEX.header: HEX.sign(SECRET, raw)}
    elif case == "invalid_utf8":
        raw = b'{"id":"x","event":"order.created","data":{"name":"\xff\xfe"}}'
        headers = {HEX.header: HEX.sign(SECRET, raw)}
    elif case == "text_plain_content_type":
        headers = {**headers, "Content-Type": "text/plain"}
    elif case == "no_headers_at_all":
        headers = {}
    elif case == "other_stores_signature":
        slug = "zen"  # acme's delivery, signed with acme's secret, sent to zen's URL
        headers = {B64.header: B64.sign(SECRET, raw)}
    elif case == "empty_body":
        raw, headers = b"", {}
    elif case == "signed_empty_body":
        raw = b""
        headers = {HEX.header: HEX.sign(SECRET, raw)}
    assert post(server, slug, raw, headers).status_code == status
    assert len(stored(queue_path)) == stored_count


def test_a_slow_client_gets_408_and_stores_nothing(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("TJAR_ACME_WEBHOOK_SECRET", SECRET)
    registry = parse_registry(
        {
            "stores": [
                {
                    "slug": "acme",
                    "domain": "a.sa",
                    "api_key_env": "K",
                    "webhook_secret_env": "TJAR_ACME_WEBHOOK_SECRET",
                }
            ]
        }
    )
    queue_path = tmp_path / "q.sqlite3"
    with ThreadedServer(create_app(registry, queue_path, body_timeout=0.3)) as server:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(
                b'POST /webhooks/tjar/acme HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"id"'
            )
            answer = sock.recv(4096)  # the rest of the body never comes
        assert answer.startswith(b"HTTP/1.1 408")
    assert stored(queue_path) == []


def test_utf16_and_bom_bodies_are_refused(receiver):
    server, queue_path = receiver
    for raw in (
        json.dumps(delivery()).encode("utf-16"),
        b"\xef\xbb\xbf" + json.dumps(delivery()).encode(),
    ):
        response = post(server, "acme", raw, {HEX.header: HEX.sign(SECRET, raw)})
        assert response.status_code == 400
    assert stored(queue_path) == []
