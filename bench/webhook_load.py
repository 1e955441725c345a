"""Load the webhook receiver on loopback with signed deliveries, and check nothing acked is lost.

Starts `tjar-pipelines webhooks serve` as a subprocess on 127.0.0.1, sends signed §15
deliveries over keep-alive HTTP/1.1 connections at a fixed rate for a fixed time, records the
latency of every answer, then opens the queue and checks that every delivery answered 2xx is
stored exactly once. With --kill-at S the receiver is SIGKILLed S seconds in and restarted on
the same port; deliveries in flight fail (Tjar would retry them) but none answered 2xx may be
missing. Then times one webhook-sensor tick over --sensor-events queued events.

    .venv/bin/python bench/webhook_load.py --rate 1000 --duration 30
    .venv/bin/python bench/webhook_load.py --rate 1000 --duration 30 --kill-at 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from tjar_pipelines.webhooks.queue import WebhookQueue
from tjar_pipelines.webhooks.signature import SignatureScheme

STORES = ("acme", "zen", "kiwi")
SCHEME = SignatureScheme()


def start_receiver(env: dict[str, str], port: int) -> tuple[subprocess.Popen[str], int]:
    script = Path(sys.executable).with_name("tjar-pipelines")
    proc = subprocess.Popen(
        [str(script), "webhooks", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    bound = int(line.split("http://127.0.0.1:")[1].split()[0])
    return proc, bound


def request_bytes(store: str, delivery: str, day: int) -> bytes:
    body = json.dumps(
        {
            "id": delivery,
            "event": "order.status.updated",
            "store": f"{store}.tjar.sa",
            "created_at": "2026-05-10 12:00:00",
            "data": {
                "identifier": day * 1000,
                "created_at": f"2026-04-{day:02d} 12:00:00",
                "status": {"value": "Shipped"},
            },
        }
    ).encode()
    head = (
        f"POST /webhooks/tjar/{store} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Tjar-Event: order.status.updated\r\nX-Tjar-Delivery: {delivery}\r\n"
        f"X-Tjar-Signature: {SCHEME.sign(f'secret-{store}', body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


class Load:
    def __init__(self, port: int, rate: float, duration: float, connections: int) -> None:
        self.port = port
        self.rate, self.duration, self.connections = rate, duration, connections
        self.acked: list[tuple[str, str]] = []
        self.latencies: list[float] = []
        self.failed = 0
        self.sent = 0
        self.statuses: dict[int, int] = {}

    async def worker(self, n: int, start: float) -> None:
        interval = self.connections / self.rate
        k = 0
        reader = writer = None
        while True:
            due = start + (k * self.connections + n) / self.rate
            k += 1
            if due - start >= self.duration:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            store = STORES[(k + n) % len(STORES)]
            delivery = str(uuid.uuid4())
            payload = request_bytes(store, delivery, 1 + (k % 28))
            self.sent += 1
            sent_at = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                assert reader is not None
                writer.write(payload)
                await writer.drain()
                status = await asyncio.wait_for(read_response(reader), 10)
            except (TimeoutError, OSError, ConnectionError, asyncio.IncompleteReadError):
                self.failed += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(min(interval, 0.05))
                continue
            self.latencies.append(time.perf_counter() - sent_at)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                self.acked.append((store, delivery))
        if writer is not None:
            writer.close()

    async def run(self) -> float:
        start = time.perf_counter()
        await asyncio.gather(*(self.worker(n, start) for n in range(self.connections)))
        return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sensor_tick(work: Path, events: int) -> float:
    """Seconds for one tjar_webhook_sensor tick over ``events`` queued events."""
    import dagster as dg

    from tjar_pipelines.definitions import build_definitions
    from tjar_pipelines.settings import Settings
    from tjar_pipelines.stores import load_registry
    from tjar_pipelines.webhooks.queue import NewEvent

    settings = Settings(stores_file=work / "stores.yaml", data_dir=work / "sensor-data")
    with WebhookQueue(settings.queue_path) as queue:
        queue.append(
            [
                NewEvent(
                    STORES[n % 3],
                    f"s{n}",
                    "order.created",
                    json.dumps(
                        {
                            "id": f"s{n}",
                            "event": "order.created",
                            "data": {"created_at": f"2026-04-{1 + n % 28:02d} 10:00:00"},
                        }
                    ),
                )
                for n in range(events)
            ]
        )
    defs = build_definitions(load_registry(settings.stores_file), settings)
    sensor = defs.resolve_sensor_def("tjar_webhook_sensor")
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), repository_def=defs.get_repository_def()
    ) as context:
        started = time.perf_counter()
        result = sensor(context)
        took = time.perf_counter() - started
    assert isinstance(result, dg.SensorResult)
    print(
        f"sensor: {events} queued events -> {len(result.run_requests or [])} run requests "
        f"in one tick: {took:.2f}s"
    )
    return took


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="deliveries per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--kill-at", type=float, help="SIGKILL and restart the receiver then")
    parser.add_argument("--sensor-events", type=int, default=10_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tjar-webhook-bench-"))
    registry = {
        "stores": [
            {
                "slug": s,
                "domain": f"{s}.tjar.sa",
                "api_key_env": f"K_{s.upper()}",
                "webhook_secret_env": f"W_{s.upper()}",
                "start_date": "2026-01-01",
            }
            for s in STORES
        ]
    }
    (work / "stores.yaml").write_text(yaml.safe_dump(registry))
    env = {
        **os.environ,
        "TJAR_STORES_FILE": str(work / "stores.yaml"),
        "TJAR_DATA_DIR": str(work / "data"),
    }
    env.update({f"W_{s.upper()}": f"secret-{s}" for s in STORES})
    receiver, port = start_receiver(env, 0)
    load = Load(port, args.rate, args.duration, args.connections)
    restarts: list[float] = []

    async def killer() -> None:
        nonlocal receiver
        if args.kill_at is None:
            return
        await asyncio.sleep(args.kill_at)
        receiver.send_signal(signal.SIGKILL)
        receiver.wait()
        down = time.perf_counter()
        receiver, _ = await asyncio.to_thread(start_receiver, env, port)
        restarts.append(time.perf_counter() - down)

    async def both() -> float:
        took, _ = await asyncio.gather(load.run(), killer())
        return took

    try:
        took = asyncio.run(both())
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
    with WebhookQueue(work / "data" / "webhooks.sqlite3") as queue:
        stored = queue.delivery_ids()
    lost = [a for a in load.acked if a not in stored]
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"receiver: {len(load.acked)} deliveries answered 2xx in {took:.1f}s = "
        f"{len(load.acked) / took:.0f}/s (asked {args.rate:.0f}/s over {args.connections} "
        f"connections); statuses {load.statuses}; failed in flight {load.failed}"
    )
    print(
        f"latency: p50 {percentile(load.latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(load.latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(load.latencies, default=0) * 1000:.1f} ms "
        f"(mean {statistics.fmean(load.latencies) * 1000 if load.latencies else 0:.1f} ms)"
    )
    if restarts:
        print(f"SIGKILL at {args.kill_at:.0f}s, receiver back after {restarts[0]:.2f}s")
    print(
        f"lost: {len(lost)} of {len(load.acked)} deliveries answered 2xx are missing from the "
        f"queue (stored {len(stored)})"
    )
    sensor_tick(work, args.sensor_events)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
