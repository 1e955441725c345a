"""`dagster dev` on the project's own workspace, next to a simulated store, for the browser tests.

`dagster dev` runs in a process group of its own with a temporary ``DAGSTER_HOME``, registry and
data directory. :meth:`DagsterDev.stop` stops it as Ctrl-C would, kills whatever is left of the
group, and fails if any process it started (webserver, daemon, code server, run worker) survives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from tjar_pipelines.simulator import SimulatorConfig, SimulatorServer, demo_stores
from tjar_pipelines.stores import env_name

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "workspace.yaml"
DAGSTER = Path(sys.executable).parent / "dagster"
# No usage reports and no "Join the Dagster community" dialog over the pages.
INSTANCE = {"telemetry": {"enabled": False}, "nux": {"enabled": False}}
# A shell that starts pytest in the background leaves SIGINT ignored, and children inherit that:
# `dagster dev` would then ignore Ctrl-C (and SIGTERM, which it maps to the same handler).
RESTORE_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on PythonError { message }
    ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename
        ... on PythonError { message errorChain { error { message } } }
        ... on RepositoryLocation { repositories { name jobs { name } } } } } } } }"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message } } }"""
RUN_STATUS = "query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"
RUN_ERRORS = """
query Logs($id: ID!) { logsForRun(runId: $id, limit: 2000) { __typename
    ... on EventConnection { events { __typename
        ... on MessageEvent { message level }
        ... on ErrorEvent { error { message } } } } } }"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, from /proc; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    return state, int(ppid)


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (Linux /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        if (stat := _proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pids: set[int]) -> set[int]:
    """The processes of ``pids`` still running (zombies waiting for a reaper are not)."""
    return {pid for pid in pids if (stat := _proc_stat(pid)) is not None and stat[0] != "Z"}


class DagsterDev:
    """``dagster dev -w workspace.yaml`` on 127.0.0.1 and a free port, and its GraphQL API."""

    def __init__(self, home: Path, env: Mapping[str, str], log: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(INSTANCE))
        # Its sockets and temp files, removed in stop() even if a process had to be killed.
        self._tmp = Path(tempfile.mkdtemp(prefix="tjar-ui-"))
        self.log = log
        self.url = f"http://127.0.0.1:{free_port()}"
        command = [str(DAGSTER), "dev", "-w", str(WORKSPACE), "-h", "127.0.0.1"]
        command += ["-p", self.url.rsplit(":", 1)[1]]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", RESTORE_SIGINT, *command],
                cwd=ROOT,
                env={**env, "DAGSTER_HOME": str(home), "TMPDIR": str(self._tmp)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._http = httpx.Client(base_url=self.url, timeout=30)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last {len(text)} lines of {self.log} ---\n" + "\n".join(text)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        answer = self._http.post("/graphql", json={"query": query, "variables": variables or {}})
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {json.dumps(body['errors'])[:2000]}")
        return body["data"]

    def wait_loaded(self, job: str, timeout: float) -> tuple[str, str]:
        """Waits for the code location that holds ``job``; returns (location, repository)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"dagster dev exited with {self.process.returncode} before its code location "
                    f"loaded\n{self.tail()}"
                )
            try:
                workspace = self.graphql(WORKSPACE_QUERY)["workspaceOrError"]
            except httpx.TransportError as error:  # the webserver is not listening yet
                last = repr(error)
            else:
                last = json.dumps(workspace)[:1000]
                for entry in workspace.get("locationEntries", []):
                    location = entry["locationOrLoadError"] or {}
                    if location.get("__typename") == "PythonError":
                        causes = [c["error"]["message"] for c in location["errorChain"]]
                        raise AssertionError(
                            f"code location {entry['name']} failed to load: "
                            + "\ncaused by: ".join([location["message"], *causes])
                        )
                    for repo in location.get("repositories", []):
                        if job in {j["name"] for j in repo["jobs"]}:
                            return entry["name"], repo["name"]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no code location with {job} after {timeout:.0f}s; last answer of "
                    f"{self.url}/graphql: {last}\n{self.tail()}"
                )
            time.sleep(0.25)

    def launch(
        self,
        repository: tuple[str, str],
        job: str,
        tags: Mapping[str, str],
        assets: list[str] | None = None,
    ) -> str:
        """Launches a run of ``job`` (optionally only ``assets`` of it); returns its id."""
        selector: dict[str, Any] = {
            "repositoryLocationName": repository[0],
            "repositoryName": repository[1],
            "jobName": job,
        }
        if assets:
            selector["assetSelection"] = [{"path": [asset]} for asset in assets]
        params = {
            "selector": selector,
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        launched = self.graphql(LAUNCH, {"params": params})["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise AssertionError(f"launchRun of {job} {dict(tags)} answered {launched}")
        return launched["run"]["runId"]

    def wait_run(self, run_id: str, timeout: float) -> float:
        """Waits for the run to succeed; returns its wall time. Fails with its error events."""
        started = time.monotonic()
        status = "unknown"
        while time.monotonic() - started < timeout:
            status = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
            if status in FINISHED:
                break
            time.sleep(0.25)
        if status == "SUCCESS":
            return time.monotonic() - started
        logs = self.graphql(RUN_ERRORS, {"id": run_id})["logsForRun"]
        errors = [
            f"{event['__typename']}: {(event.get('error') or event)['message']}"
            for event in logs.get("events", [])
            if event.get("error") or event.get("level") in ("ERROR", "CRITICAL")
        ]
        raise AssertionError(
            f"run {run_id} is {status} after {time.monotonic() - started:.0f}s (timeout "
            f"{timeout:.0f}s); its errors:\n" + "\n".join(errors or ["(none)"]) + f"\n{self.tail()}"
        )

    def stop(self, grace: float = 30) -> None:
        """Ctrl-C, then SIGKILL to the group; fails if a process it started is still running."""
        self._http.close()
        started = descendants(self.process.pid) | {self.process.pid}
        left: set[int] = set()
        try:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            deadline = time.monotonic() + 10
            while (left := running(started)) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if left:
            for pid in left:  # ours by PID (recorded while dagster dev ran): never left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"processes of dagster dev still running: {sorted(left)}")


@dataclass(frozen=True)
class Stack:
    """A simulator and `dagster dev` on a registry of its stores."""

    server: SimulatorServer
    dagster: DagsterDev
    repository: tuple[str, str]  # (code location, repository) holding the project's jobs
    store: str
    day: dt.date


STORES = tuple(replace(s, orders=600, history_days=30) for s in demo_stores(2))  # ~20 a day


def demo_config(day: dt.date) -> SimulatorConfig:
    """The demo stores, their history ending at 23:00 on ``day`` in the first store's zone.

    So that day is complete, whenever the test runs.
    """
    anchor = dt.datetime.combine(day, dt.time(23, 0), ZoneInfo(STORES[0].timezone))
    return SimulatorConfig(stores=STORES, anchor=anchor)


def write_registry(server: SimulatorServer, path: Path, start: dt.date) -> dict[str, str]:
    """The stores of ``server`` as a ``stores.yaml``; returns the variables holding their keys."""
    env: dict[str, str] = {}
    entries = []
    for slug, store in server.simulator.stores.items():
        env[env_name(slug, "API_KEY")] = store.spec.api_key
        entries.append(
            {
                "slug": slug,
                "domain": store.spec.domain,
                "api_key_env": env_name(slug, "API_KEY"),
                "base_url": server.base_url(slug),
                "timezone": store.spec.timezone,
                "start_date": start.isoformat(),
            }
        )
    path.write_text(yaml.safe_dump({"stores": entries}, sort_keys=False))
    return env


@contextlib.contextmanager
def dagster_with_simulator(tmp: Path, *, load_timeout: float = 180) -> Iterator[Stack]:
    """The simulator and `dagster dev` on it, with the code location loaded; stops both."""
    store = STORES[0].slug
    day = dt.datetime.now(ZoneInfo(STORES[0].timezone)).date()
    with SimulatorServer(demo_config(day)) as server:
        keys = write_registry(server, tmp / "stores.yaml", day - dt.timedelta(days=40))
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TJAR_", "DAGSTER_"))}
        env = inherited | keys
        env |= {
            "TJAR_STORES_FILE": str(tmp / "stores.yaml"),
            "TJAR_DATA_DIR": str(tmp / "data"),
            "TJAR_RUN_RETRIES": "0",  # a failing run fails the test at once, with its error
        }
        dagster = DagsterDev(tmp / "dagster_home", env, tmp / "dagster.log")
        try:
            repository = dagster.wait_loaded("orders_job", load_timeout)
            yield Stack(server, dagster, repository, store, day)
        finally:
            dagster.stop()
