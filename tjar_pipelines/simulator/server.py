"""The simulator served from a background thread (tests, demo, benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tjar_pipelines.serving import ThreadedServer
from tjar_pipelines.simulator.app import Simulator
from tjar_pipelines.simulator.config import SimulatorConfig


class SimulatorServer(ThreadedServer):
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
        super().__init__(self.simulator.app, host=host, port=port)

    def base_url(self, slug: str) -> str:
        return f"{self.url}/s/{slug}/api/core/v1"
