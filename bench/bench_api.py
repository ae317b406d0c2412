"""Benchmark of the analytics API: p50/p95/p99 under 50 clients on a mix of 400 different requests.

What it measures, and on what:

1. **A publication built by the real pipeline.** Starts an embedded PostgreSQL (or uses
   ``PETPRO_BENCH_SOURCE_URL``, which must be empty), seeds it with the synthetic generator
   (``PETPRO_BENCH_API_CUSTOMERS`` customers, default 20,000 ≈ 1.2M activities, over
   ``PETPRO_BENCH_API_DAYS`` = 540 days) and runs the full rebuild through Dagster
   (``orchestration.runner.refresh``: extraction, checks, ``dbt build``, write-audit-publish).
   ``--home DIR`` reuses a home that already holds such a publication (a previous ``--keep``
   or ``petpro demo``) instead of building one.
2. **A mix of different requests.** ``--mix`` (default 400) distinct requests over the
   compatible endpoints (``/analytics/*``, ``/activities/statistics``) and the main ``/v2``
   ones, with dates, intervals, activity types and segment filters drawn (fixed seed) from
   what the publication holds. Every answer must be 200.
3. **Cold and warm, separately.** Each run starts ``petpro serve --workers N`` afresh (empty
   response caches, a new DuckDB connection). *Cold*: the mix sent once, shuffled, by
   ``--concurrency`` keep-alive clients: every answer is computed in DuckDB. Then each client
   connection sends the whole mix once more (so every worker process has answered every
   request whichever connection the kernel gave it), and *warm* is ``--passes`` shuffled passes
   of the mix after that: answers come from the per-publication response cache.
4. **Cache on vs off, interleaved.** Each run measures the server as configured (response
   cache on) and, unless ``--no-compare``, the same server with ``--cache-entries 0``
   (every answer computed), and with ``--baseline DIR`` the server of another checkout (the
   code before a change, e.g. ``git archive main | tar -x -C DIR``), alternating; ``--runs``
   (default 3) runs, and every figure printed is the **median over the runs**. The load
   average is printed with each run.

5. **The work behind the cold figures.** ``--service-times`` replaces the load runs: each
   request of the mix once, one at a time, on one worker with the cache off; prints the
   service time of one answer by endpoint and filter, and the wait Little's law gives for
   ``--concurrency`` clients.

Goal (issue 13): p99 ≤ 50 ms at 50 concurrent clients on the 400-request mix. Prints figures
and a pass/short verdict; asserts nothing about timing. ``python -m bench api --help`` lists
the options.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

GOAL_P99_MS = 50.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- 1. the publication -------------------------------------------------------------------


def build_publication(home: Path, customers: int, days: int) -> None:
    """Seed a source and publish it with the real full rebuild (Dagster, dbt, publish)."""
    import psycopg

    from petpro.settings import get_settings
    from sourcedb.schema import create_schema
    from sourcedb.seed import is_empty, seed_source

    saved = dict(os.environ)
    server = None
    try:
        url = os.environ.get("PETPRO_BENCH_SOURCE_URL")
        if not url:
            from sourcedb.server import EmbeddedServer

            pg = get_settings(
                home=home / "pg_home", source_port=_free_port(), source_database="bench"
            )
            server = EmbeddedServer(pg)
            url = server.start()
        os.environ["PETPRO_HOME"] = str(home)
        os.environ["PETPRO_SOURCE_URL"] = url
        os.environ.setdefault("PETPRO_PII_KEY", "bench-pii-key")
        settings = get_settings()
        with psycopg.connect(url) as conn:
            create_schema(conn)
            if not is_empty(conn):
                raise SystemExit("PETPRO_BENCH_SOURCE_URL must point to an empty source")
        t0 = time.perf_counter()
        seed = seed_source(url, customers=customers, days=days, timezone=settings.timezone)
        print(
            f"source: {seed.rows['activities']:,} activities, {customers:,} customers, "
            f"{days} days, seeded in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        from orchestration.runner import refresh

        t0 = time.perf_counter()
        refresh(settings, full=True)
        print(f"publication: full rebuild through Dagster in {time.perf_counter() - t0:.0f} s")
    finally:
        if server is not None:
            server.stop()
        os.environ.clear()
        os.environ.update(saved)


# --- 2. the request mix --------------------------------------------------------------------


def publication_facts(published_db: Path) -> dict[str, Any]:
    """What the mix draws from: the activity date range and the segment values present."""
    import duckdb

    con = duckdb.connect(str(published_db), read_only=True)
    try:
        first, last = con.execute(
            "select min(activity_date), max(activity_date) from mart_customer_activity_daily"
        ).fetchone()
        segments: dict[str, list[str]] = {}
        for dimension, segment in con.execute(
            "select distinct dimension, segment from mart_customer_segments order by all"
        ).fetchall():
            segments.setdefault(dimension, []).append(segment)
        types = [
            t
            for (t,) in con.execute(
                "select distinct activity_type from mart_customer_activity_daily order by 1"
            ).fetchall()
        ]
        currencies = [
            c
            for (c,) in con.execute(
                "select distinct currency from mart_service_usage where currency is not null "
                "order by 1"
            ).fetchall()
        ]
    finally:
        con.close()
    return {
        "first": first,
        "last": last,
        "segments": segments,
        "types": types,
        "currencies": currencies,
    }


def request_mix(facts: dict[str, Any], size: int, seed: int = 13) -> list[str]:
    """``size`` distinct request paths over the compatible and main v2 endpoints."""
    from datetime import timedelta

    rng = random.Random(seed)
    first, last = facts["first"], facts["last"]
    span = (last - first).days

    def dates() -> tuple[str, str]:
        a = first + timedelta(days=rng.randrange(span))
        b = min(last, a + timedelta(days=rng.randrange(7, 400)))
        return a.isoformat(), b.isoformat()

    def segment() -> dict[str, str]:
        dimension = rng.choice(sorted(facts["segments"]))
        return {dimension: rng.choice(facts["segments"][dimension])}

    def compat_dated(path: str, interval_name: str = "interval") -> str:
        start, end = dates()
        interval = rng.choice(["day", "week", "month"])
        return path + "?" + urlencode({"startDate": start, "endDate": end, interval_name: interval})

    def v2(path: str, *, types: bool = True, segments: bool = True, **extra: Any) -> str:
        start, end = dates()
        params: dict[str, Any] = {"start": start, "end": end, **extra}
        if "interval" not in params:
            params["interval"] = rng.choice(["day", "week", "month"])
        if types and rng.random() < 0.4:
            params["activity_type"] = ",".join(rng.sample(facts["types"], rng.randint(1, 3)))
        if segments and rng.random() < 0.4:
            params.update(segment())
        return path + "?" + urlencode(params)

    makers = [
        lambda: compat_dated("/analytics/customer-growth"),
        lambda: compat_dated("/analytics/customer-activity"),
        lambda: compat_dated("/analytics/service-usage"),
        lambda: compat_dated("/activities/statistics", "groupBy"),
        lambda: v2("/v2/customer-growth"),
        lambda: v2("/v2/customer-activity"),
        lambda: v2("/v2/active-customers"),
        lambda: v2("/v2/active-users", interval="day"),
        lambda: v2(
            "/v2/customer-lifecycle",
            types=False,
            segments=False,
            interval=rng.choice(["week", "month"]),
        ),
        lambda: v2("/v2/retention-monthly", types=False, interval="day"),
        lambda: v2("/v2/repeat-customers", types=False, segments=False),
        lambda: v2("/v2/nday-retention", types=False, segments=False),
    ]
    mix = {
        "/analytics/customer-demographics",
        "/analytics/customer-retention",
        "/v2/activity-heatmap",
        "/v2/segments",
    }
    for dimension in sorted(facts["segments"]):
        mix.add(f"/v2/customer-demographics?dimension={dimension}")
    while len(mix) < size:
        mix.add(rng.choice(makers)())
    return sorted(mix)[:size] if len(mix) > size else sorted(mix)


# --- 3. load -------------------------------------------------------------------------------


async def load(
    base: str, paths: list[str], headers: dict[str, str], concurrency: int, *, each: bool = False
) -> tuple[list[float], int]:
    """Closed loop: ``concurrency`` keep-alive connections send ``paths`` (shared queue, or
    every path on every connection with ``each``); returns the latencies and non-200 count.

    A minimal HTTP/1.1 client on asyncio streams keeps the load generator's own cost low
    (httpx's async client alone tops out near 100 req/s on a busy 2-core machine, which
    would measure the client, not the API)."""
    host, port = base.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(paths))

    async def worker(index: int) -> None:
        nonlocal errors
        own = paths[index:] + paths[:index] if each else None
        source = own if each else queue
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while source:
                path = source.pop()
                raw = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode()
                t0 = time.perf_counter()
                try:
                    writer.write(raw)
                    header = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in header.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    await reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # A dropped connection (e.g. a worker killed by uvicorn's health check)
                    # is an error, counted with its latency; the client reconnects.
                    latencies.append(time.perf_counter() - t0)
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                latencies.append(time.perf_counter() - t0)
                errors += not header.startswith(b"HTTP/1.1 200")
        finally:
            writer.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, errors


def percentiles(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    return {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "rps": len(ordered) / wall}


def start_server(
    home: Path, workers: int, cache_entries: int | None, secret: str, code: Path | None = None
) -> tuple:
    import httpx

    env = {**os.environ, "PETPRO_HOME": str(home), "PETPRO_JWT_SECRET": secret}
    cache = [] if cache_entries is None else ["--cache-entries", str(cache_entries)]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--log-level", "warning",
         "--workers", str(workers), *cache],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=code,  # `python -m cli` imports the checkout it starts in: --baseline serves older code
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.terminate()
            raise SystemExit("the API did not start")
        time.sleep(0.2)


def one_run(
    home: Path,
    mix: list[str],
    args: argparse.Namespace,
    variant: str,
    secret: str,
    token: str,
) -> dict[str, dict[str, float]]:
    """One fresh server: the cold pass, the per-connection warm-up, the warm passes."""
    headers = {"Authorization": f"Bearer {token}"}
    cache = variant != "cache off"
    code = args.baseline if variant == "baseline" else None
    proc, base = start_server(home, args.workers, None if cache else 0, secret, code)
    rng = random.Random(len(mix))
    workers_at_start = _children(proc.pid)
    try:
        cold_paths = rng.sample(mix, len(mix))
        t0 = time.perf_counter()
        lat, errors = asyncio.run(load(base, cold_paths, headers, args.concurrency))
        cold = percentiles(lat, time.perf_counter() - t0) | {"errors": errors}
        if cache:  # every connection (hence every worker) answers every request once
            asyncio.run(load(base, mix, headers, args.concurrency, each=True))
        else:  # nothing to fill but DuckDB's and the OS's caches: one pass
            asyncio.run(load(base, mix, headers, args.concurrency))
        warm_paths = [p for _ in range(args.passes) for p in rng.sample(mix, len(mix))]
        t0 = time.perf_counter()
        lat, errors = asyncio.run(load(base, warm_paths, headers, args.concurrency))
        warm = percentiles(lat, time.perf_counter() - t0) | {"errors": errors}
        # uvicorn's supervisor kills a worker that misses its 5 s health check and starts a
        # new one (empty cache): report it rather than hide it in the tail.
        warm["restarts"] = len(workers_at_start - _children(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"cold": cold, "warm": warm}


def _children(pid: int) -> set[str]:
    try:
        return set(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return set()


def _answer_kind(path: str, segments: dict[str, list[str]]) -> str:
    """The endpoint and what filters it: a segment, activity types, both or neither."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(path)
    params = parse_qs(parts.query)
    filters = [
        name
        for name, present in (
            ("segment", any(k in segments for k in params) and "dimension" not in params),
            ("types", "activity_type" in params),
        )
        if present
    ]
    return f"{parts.path} ({' + '.join(filters) or 'no filter'})"


def service_times(
    home: Path, mix: list[str], facts: dict[str, Any], secret: str, token: str, clients: int
) -> None:
    """Each request of the mix once, one at a time, on one worker with the cache off: the work
    one answer costs, nothing queued (what the cold figures queue 50 deep)."""
    from rich.console import Console
    from rich.table import Table

    headers = {"Authorization": f"Bearer {token}"}
    proc, base = start_server(home, 1, 0, secret)
    try:
        asyncio.run(load(base, mix[:5], headers, 1))  # connection and first-use costs
        latencies, errors = asyncio.run(load(base, mix, headers, 1))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # One client pops the reversed queue: the latencies come in the mix's order.
    kinds: dict[str, list[float]] = {}
    for path, seconds in zip(mix, latencies, strict=True):
        kinds.setdefault(_answer_kind(path, facts["segments"]), []).append(seconds * 1000)
    table = Table(title=f"service time of one answer, {len(mix)} requests one at a time")
    for col in ("answer", "n", "mean ms", "max ms", "share of total"):
        table.add_column(col, justify="left" if col == "answer" else "right")
    total = sum(latencies) * 1000
    for kind, ms in sorted(kinds.items(), key=lambda kv: -sum(kv[1])):
        table.add_row(
            kind, str(len(ms)), f"{statistics.mean(ms):.1f}", f"{max(ms):.1f}",
            f"{sum(ms) / total:.0%}",
        )  # fmt: skip
    Console().print(table)
    print(
        f"{len(mix)} answers in {total / 1000:.2f} s, {total / len(mix):.1f} ms on average "
        f"(errors {errors}); with {clients} closed-loop clients on {os.cpu_count()} cores an "
        f"answer waits about {clients * total / len(mix) / (os.cpu_count() or 1):.0f} ms "
        f"(Little's law). Load average before: {_load()}."
    )


# --- 4. the runs ---------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench api",
        description=__doc__.splitlines()[0],
        epilog="Sizes: PETPRO_BENCH_API_CUSTOMERS (20000), PETPRO_BENCH_API_DAYS (540).",
    )
    parser.add_argument("--mix", type=int, default=400, help="distinct requests in the mix")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (median shown)")
    parser.add_argument("--passes", type=int, default=3, help="warm passes of the mix per run")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the cache-off runs (no comparison)"
    )
    parser.add_argument("--home", type=Path, help="reuse this home's publication (no build)")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (e.g. `git archive` of main) served as a third, interleaved variant",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument(
        "--service-times",
        action="store_true",
        help="instead of the load runs: each request once, one at a time, cache off (the work "
        "one answer costs, by endpoint and filter)",
    )
    args = parser.parse_args(argv)
    customers = int(os.environ.get("PETPRO_BENCH_API_CUSTOMERS", "20000"))
    days = int(os.environ.get("PETPRO_BENCH_API_DAYS", "540"))

    from petpro.settings import get_settings
    from serving.auth import mint_token

    home = args.home or Path(tempfile.mkdtemp(prefix="petpro-bench-api-"))
    try:
        settings = get_settings(home=home)
        if args.home is None:
            build_publication(home, customers, days)
        if not settings.published_db.exists():
            raise SystemExit(f"no publication under {home}; build one or drop --home")
        facts = publication_facts(settings.published_db)
        mix = request_mix(facts, args.mix)
        groups = {
            "compat": sum(not p.startswith("/v2") for p in mix),
            "v2": sum(p.startswith("/v2") for p in mix),
        }
        print(
            f"mix: {len(mix)} distinct requests ({groups['compat']} compatible, {groups['v2']} "
            f"v2) over {facts['first']}..{facts['last']}; {args.concurrency} clients, "
            f"{args.workers} workers, {args.runs} runs",
            flush=True,
        )
        secret = "bench-secret-" + "0" * 32
        token = mint_token(get_settings(home=home, jwt_secret=secret), role="admin", sub="bench")
        if args.service_times:
            service_times(home, mix, facts, secret, token, args.concurrency)
            return
        variants = ["cache on"] + ([] if args.no_compare else ["cache off"])
        if args.baseline:
            variants.append("baseline")
        results: dict[str, list[dict[str, dict[str, float]]]] = {v: [] for v in variants}
        loads = []
        for run in range(1, args.runs + 1):
            for variant in variants:  # interleaved: on, off, on, off, …
                before = _load()
                result = one_run(home, mix, args, variant, secret, token)
                results[variant].append(result)
                loads.append(before)
                print(
                    f"run {run} {variant:<9} load {before} | cold p99 "
                    f"{result['cold']['p99']:.1f} ms | warm p99 {result['warm']['p99']:.1f} ms"
                    f" | errors {int(result['cold']['errors'] + result['warm']['errors'])}"
                    f" | worker restarts {result['warm']['restarts']}",
                    flush=True,
                )
        report(results, args, len(mix), loads)
    finally:
        if args.home is None and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
        elif args.keep:
            print(f"kept {home}")


def report(
    results: dict[str, list[dict[str, dict[str, float]]]],
    args: argparse.Namespace,
    mix: int,
    loads: list[str],
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"API — {mix}-request mix, {args.concurrency} clients, {args.workers} workers; "
        f"median of {args.runs} interleaved runs"
    )
    for col in ("server", "answers", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors"):
        table.add_column(col, justify="left" if col in ("server", "answers") else "right")
    medians: dict[tuple[str, str], dict[str, float]] = {}
    for variant, runs in results.items():
        for phase in ("cold", "warm"):
            m = {
                k: statistics.median(r[phase][k] for r in runs)
                for k in ("p50", "p95", "p99", "rps", "errors")
            }
            medians[(variant, phase)] = m
            table.add_row(
                variant,
                phase,
                f"{m['p50']:.1f}",
                f"{m['p95']:.1f}",
                f"{m['p99']:.1f}",
                f"{m['rps']:,.0f}",
                f"{m['errors']:.0f}",
            )
    Console().print(table)
    print(
        "cold = first answer of each request on a fresh server (computed in DuckDB); warm = "
        f"{args.passes} shuffled passes after every connection sent the mix once (response "
        "cache; with the cache off, computed again). Load average (1/5/15 min) before each "
        f"run: {', '.join(loads)}."
    )
    for phase in ("warm", "cold"):
        p99 = medians[("cache on", phase)]["p99"]
        verdict = "pass" if p99 <= GOAL_P99_MS else "short"
        print(
            f"goal API p99 ≤ {GOAL_P99_MS:.0f} ms ({phase}): {p99:.1f} ms = "
            f"{p99 / GOAL_P99_MS:.2f}× the goal → {verdict}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
