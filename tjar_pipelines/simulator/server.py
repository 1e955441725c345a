"""Runs the simulator with uvicorn: in the foreground (CLI) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from tjar_pipelines.simulator.app import Simulator
from tjar_pipelines.simulator.config import SimulatorConfig


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free ephemeral port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_server(simulator: Simulator, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        simulator.app, log_level=log_level, lifespan="on", access_log=False, timeout_keep_alive=30
    )
    return uvicorn.Server(config)


class SimulatorServer:
    """A simulator on ``127.0.0.1`` and an ephemeral port, served from a background thread.

    Example:
        >>> with SimulatorServer(SimulatorConfig(stores=demo_stores())) as server:
        ...     server.base_url("demo-1")
        'http://127.0.0.1:41234/s/demo-1/api/core/v1'
    """

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.simulator = Simulator(config, monotonic=monotonic, clock=clock)
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn_server(self.simulator)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name="tjar-simulator",
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, slug: str) -> str:
        return f"{self.url}/s/{slug}/api/core/v1"

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Tjar simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
