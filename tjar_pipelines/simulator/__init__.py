"""A local Tjar server: many deterministic stores in one process, with fault and live knobs."""

from tjar_pipelines.simulator.app import Simulator
from tjar_pipelines.simulator.config import (
    Faults,
    LiveMode,
    SimulatorConfig,
    StoreSpec,
    demo_stores,
)
from tjar_pipelines.simulator.server import SimulatorServer

__all__ = [
    "Faults",
    "LiveMode",
    "Simulator",
    "SimulatorConfig",
    "SimulatorServer",
    "StoreSpec",
    "demo_stores",
]
