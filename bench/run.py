"""`make bench`: tjar_pipelines against the floor, a naive script and dlt, on the same data.

For each size a simulator process serves two stores holding that many orders in total. Each
contender runs in its own process against it, and reports wall seconds, CPU seconds (its own
threads and children, not the simulator's) and its peak RSS; with --repeat, the contenders run
in rounds, one run of each in turn, and the ratios are the medians of each round's ratios:

* floor: every page of every store fetched with httpx and thrown away (the simulator's limit);
* tjar_pipelines: `tjar-pipelines sync` (orders, order items, products -> lake and DuckDB);
* naive: bench/naive_loader.py (paging loop, pandas.json_normalize, DuckDB insert);
* dlt: bench/dlt_loader.py (dlt rest_api source, merge on (store, identifier) into DuckDB).

Then the rate-limited scenario (10 stores, 50 ms latency, 10 requests/s per store, synced in
one `tjar-pipelines sync`) against its ideal, at two sizes: a sync's fixed costs (Dagster's
start, one event per partition, the last days' slices) weigh on 6,000 orders a store (6 s of
requests) and hardly on 30,000 (30 s), so the two rows tell the fixed costs from the pacing.
Last, the webhook receiver and sensor figures (bench/webhook_load.py). Prints one table.

    .venv/bin/python bench/run.py                       # 10k and 100k orders
    .venv/bin/python bench/run.py --sizes 1000000 --only floor,tjar_pipelines
    .venv/bin/python bench/run.py --repeat 3            # 3 rounds (noisy hosts): medians
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CONTENDERS = ("floor", "tjar_pipelines", "naive", "dlt")


def start_simulator(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(BIN / "tjar-pipelines"), "simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[-1]
    return proc, url


def slug_args(slugs: list[str]) -> list[str]:
    return [arg for slug in slugs for arg in ("--slug", slug)]


def stores_of(url: str, slugs: list[str]) -> list[tuple[str, str, str]]:
    return [(s, f"{url}/s/{s}/api/core/v1", f"sim-key-{s}") for s in slugs]


# Contenders, each run in a child process: `bench/run.py --contender NAME SPEC`.


def floor(stores: list[tuple[str, str, str]], work: Path, first: str, last: str) -> dict:
    """Every page of every store, bodies thrown away: only the first page of a list is parsed."""
    import httpx

    rows = 0
    for _slug, base, key in stores:
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            for path, params in (
                ("orders", {"date_from": first, "date_to": last}),
                ("products", {}),
            ):
                query = {**params, "per_page": 100}
                head = http.get(f"{base}/{path}", params={**query, "page": 1}).json()["data"]
                rows += head["pagination"]["total"] if path == "orders" else 0
                for page in range(2, head["pagination"]["last_page"] + 1):
                    http.get(f"{base}/{path}", params={**query, "page": page}).read()
    return {"orders": rows}


def tjar_pipelines(stores: list[tuple[str, str, str]], work: Path, first: str, last: str) -> dict:
    import argparse as ap

    import duckdb

    from tjar_pipelines import sync

    registry = {
        "stores": [
            {
                "slug": s,
                "domain": f"{s}.tjar.test",
                "api_key_env": f"KEY_{n}",
                "base_url": base,
                "start_date": first,
            }
            for n, (s, base, _) in enumerate(stores)
        ]
    }
    (work / "stores.yaml").write_text(yaml.safe_dump(registry))
    os.environ.update({f"KEY_{n}": key for n, (_, _, key) in enumerate(stores)})
    os.environ.update(
        {
            "TJAR_STORES_FILE": str(work / "stores.yaml"),
            "TJAR_DATA_DIR": str(work / "data"),
            "TJAR_RUN_RETRIES": "0",
            "TJAR_REQUESTS_PER_SECOND": os.environ.get("BENCH_RPS", "100000"),
            "TJAR_RATE_LIMIT_WINDOW": os.environ.get("BENCH_WINDOW", "60"),
        }
    )
    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # the sync's progress lines
    try:
        code = sync.run(
            ap.Namespace(
                store=[s for s, _, _ in stores],
                first=dt.date.fromisoformat(first),
                last=dt.date.fromisoformat(last),
                assets="orders,order_items,products",
            )
        )
    finally:
        sys.stdout = stdout
    assert code == 0, "sync failed"
    with duckdb.connect(str(work / "data" / "tjar.duckdb"), read_only=True) as con:
        [(orders,)] = con.execute("SELECT count(*) FROM orders").fetchall()
    return {"orders": orders}


def naive(stores: list[tuple[str, str, str]], work: Path, first: str, last: str) -> dict:
    sys.path.insert(0, str(HERE))
    import naive_loader

    return naive_loader.run(stores, str(work / "naive.duckdb"), first, last)


def dlt(stores: list[tuple[str, str, str]], work: Path, first: str, last: str) -> dict:
    sys.path.insert(0, str(HERE))
    import dlt_loader

    return dlt_loader.run(stores, str(work / "dlt.duckdb"), first, last)


def contender_main(name: str, spec: str) -> None:
    args = json.loads(spec)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    if name == "tjar_pipelines":
        import dagster  # noqa: F401  # a fixed start-up cost, like the interpreter's: not timed
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    try:
        stores = [tuple(s) for s in args["stores"]]
        counts = globals()[name](stores, work, args["first"], args["last"])
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    finally:
        shutil.rmtree(work, ignore_errors=True)  # a 1M run leaves gigabytes
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_mb": rss, "orders": counts["orders"]}))


def _cpu_seconds() -> float:
    """CPU time of this process (all its threads) and of the children it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_contender(
    name: str, stores, first: str, last: str, env: dict | None = None, repeat: int = 1
) -> dict:
    """The contender's figures over ``repeat`` runs against the same simulator (see
    :func:`summary`)."""
    return summary([_run_once(name, stores, first, last, env) for _ in range(repeat)])


def run_in_rounds(names: tuple[str, ...], stores, first: str, last: str, repeat: int) -> dict:
    """Each contender's figures, run in ``repeat`` rounds of one run each, in turn.

    The host's speed drifts over minutes (shared machines), so runs of one contender one after
    the other would put the drift between contenders; in rounds, less of it does. Every other
    round runs the contenders in reverse, so none always runs first and the floor and
    tjar_pipelines stay next to each other. Each summary keeps its runs' wall times by round,
    for the ratios (:func:`ratio`).
    """
    names = tuple(dict.fromkeys(names))
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else reversed(names):
            runs[name].append(_run_once(name, stores, first, last, None))
    return {name: summary(runs[name]) for name in names}


def summary(runs: list[dict]) -> dict:
    """The median wall and CPU times and the highest RSS of ``runs``, the range of their wall
    times, and the wall times in run order (``walls``); or the first failure."""
    if failed := [r for r in runs if "error" in r]:
        return failed[0]
    walls = sorted(r["seconds"] for r in runs)
    return {
        **runs[0],
        "seconds": statistics.median(walls),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "rss_mb": max(r["rss_mb"] for r in runs),
        "range": f" ({walls[0]:.1f}-{walls[-1]:.1f})" if len(runs) > 1 else "",
        "walls": [r["seconds"] for r in runs],
    }


def ratio(r: dict, base: dict) -> float | None:
    """The median over rounds of ``r``'s wall time over ``base``'s in the same round."""
    if "walls" not in r or "walls" not in base:
        return None
    return statistics.median(a / b for a, b in zip(r["walls"], base["walls"], strict=True))


def _run_once(name: str, stores, first: str, last: str, env: dict | None) -> dict:
    spec = json.dumps({"stores": stores, "first": first, "last": last})
    out = subprocess.run(
        [sys.executable, __file__, "--contender", name, spec],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(out.stdout.strip().splitlines()[-1])


HEADER = [
    "orders",
    "contender",
    "wall s",
    "CPU s",
    "orders/s",
    "peak RSS MB",
    "vs floor",
    "vs tjar_pipelines",
]


def _failed(orders: str, contender: str, error: str) -> list[str]:
    """The table row of a contender that failed, its other columns empty."""
    return [orders, contender, "failed: " + error, *[""] * (len(HEADER) - 3)]


def throughput(
    sizes: list[int], only: tuple[str, ...], rows: list[list[str]], repeat: int = 1
) -> None:
    for size in sizes:
        slugs = ["b1", "b2"]
        sim, url = start_simulator(
            *slug_args(slugs),
            "--orders",
            str(size // 2),
            "--products",
            "200",
            "--history-days",
            "30",
            "--timezone",
            "Asia/Riyadh",
        )
        today = dt.date.today()
        first, last = str(today - dt.timedelta(days=31)), str(today + dt.timedelta(days=1))
        try:
            results = run_in_rounds(only, stores_of(url, slugs), first, last, repeat)
        finally:
            sim.terminate()
            sim.wait()
        base = results.get("floor", {})
        ours = results.get("tjar_pipelines", {})
        for name, r in results.items():
            if "error" in r:
                rows.append(_failed(f"{size:,}", name, r["error"]))
                continue
            to_floor, to_ours = ratio(r, base), ratio(r, ours)
            rows.append(
                [
                    f"{size:,}",
                    name,
                    f"{r['seconds']:.1f}{r['range']}",
                    f"{r['cpu']:.1f}",
                    f"{r['orders'] / r['seconds']:,.0f}",
                    f"{r['rss_mb']:.0f}",
                    f"{to_floor:.2f}x" if to_floor else "",
                    f"{to_ours:.2f}x" if to_ours else "",
                ]
            )
            assert r["orders"] == size or name == "floor" or "error" in r, (
                f"{name} read {r['orders']}"
            )


def rate_limited(rows: list[list[str]], orders_per_store: int = 6000, repeat: int = 1) -> None:
    """10 stores, 50 ms latency, 10 requests/s each, synced in one `tjar-pipelines sync`."""
    slugs = [f"r{n}" for n in range(10)]
    sim, url = start_simulator(
        *slug_args(slugs),
        "--orders",
        str(orders_per_store),
        "--history-days",
        "30",
        "--latency-ms",
        "50",
        "--rate-limit",
        "10",
        "--rate-window",
        "1",
    )
    today = dt.date.today()
    first, last = str(today - dt.timedelta(days=31)), str(today + dt.timedelta(days=1))
    try:
        result = run_contender(
            "tjar_pipelines",
            stores_of(url, slugs),
            first,
            last,
            env={"BENCH_RPS": "10", "BENCH_WINDOW": "1"},
            repeat=repeat,
        )
        health = json.loads(__import__("httpx").get(f"{url}/_sim/health").text)
    finally:
        sim.terminate()
        sim.wait()
    if "error" in result:
        rows.append(_failed("10 stores", "rate-limited", result["error"]))
        return
    # Ideal: the busiest store's requests at its 10 per second (orders pages + 1 products
    # page), all stores at once.
    ideal = (math.ceil(orders_per_store / 100) + 1) / 10
    wall = result["seconds"]
    rows.append(
        [
            f"10x{orders_per_store:,}",
            "rate-limited",
            f"{wall:.1f}{result['range']}",
            f"{result['cpu']:.1f}",
            f"{result['orders'] / wall:,.0f}",
            f"{result['rss_mb']:.0f}",
            f"ideal {ideal:.1f}s: {wall / ideal:.2f}x",
            f"429s: {health['429']} / 10 stores" + (f" x {repeat} runs" if repeat > 1 else ""),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--million", action="store_true", help="add 1,000,000 orders")
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--contender", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--skip-scenarios", action="store_true")
    parser.add_argument(
        "--rate-limited",
        default="6000,30000",
        metavar="ORDERS,...",
        help="orders per store of each rate-limited run",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of runs, each contender once a round; the table shows the medians, and "
        "the median of each round's ratio",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: give 1 or more")
    if args.contender:
        contender_main(*args.contender)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    rows: list[list[str]] = []
    throughput(sizes, tuple(args.only.split(",")), rows, args.repeat)
    if not args.skip_scenarios:
        for orders in args.rate_limited.split(","):
            rate_limited(rows, int(orders), repeat=args.repeat)
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    print(
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, {dt.date.today()}"
    )
    for row in [HEADER, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    if not args.skip_scenarios:
        subprocess.run(
            [sys.executable, str(HERE / "webhook_load.py"), "--rate", "1000", "--duration", "30"]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
