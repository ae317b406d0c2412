"""A new publication is picked up without a restart and without failing in-flight requests."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

C1 = "00000000-0000-4000-8000-000000000001"
APRIL = {"interval": "month", "start": "2024-04-01", "end": "2024-04-30"}
# April events in the base data: C1 1 + C5 2 + C5 4 + C6 1 = 8; publication "load-k" adds k.
BASE_APRIL_EVENTS = 8


def _expected(run_id: str) -> int:
    return BASE_APRIL_EVENTS + (int(run_id.split("-")[1]) if run_id.startswith("load-") else 0)


@pytest.mark.slow
def test_switch_under_load(live_server, published, fixture_tools, analyst):
    build = fixture_tools["build_publication"]
    stop = threading.Event()
    results: list[tuple[int, str | None, int | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=live_server, headers=analyst, timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.get("/v2/active-customers", params=APRIL)
                    events = r.json()["data"][0]["events"] if r.status_code == 200 else None
                    with lock:
                        results.append((r.status_code, r.headers.get("x-publication"), events))
                except BaseException as exc:  # a dropped connection is a failure too
                    with lock:
                        errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for k in range(1, 6):
            time.sleep(0.3)
            build(
                published.settings,
                run_id=f"load-{k}",
                extra_daily=[(C1, "2024-04-03", "login", k)],
            )
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert not errors, errors[:3]
    assert len(results) > 50
    assert {status for status, _, _ in results} == {200}
    # Every answer is internally consistent with the publication it claims to come from.
    for _, run_id, events in results:
        assert events == _expected(run_id), (run_id, events)
    seen = {run_id for _, run_id, _ in results}
    assert "load-5" in seen and len(seen) >= 3, seen
    final = httpx.get(f"{live_server}/health").json()
    assert final["run_id"] == "load-5"
    # Old publications were closed once drained: no descriptor of this process still points
    # at a replaced (deleted) warehouse file.
    stale = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if str(published.settings.published_dir) in target and "(deleted)" in target:
            stale.append(target)
    assert not stale, stale


def test_switch_without_restart_testclient(client, published, fixture_tools, analyst):
    assert client.get("/health").json()["run_id"] == "run-1"
    fixture_tools["build_publication"](
        published.settings,
        run_id="load-2",
        extra_daily=[(C1, "2024-04-03", "login", 2)],
    )
    r = client.get("/v2/active-customers", params=APRIL, headers=analyst)
    assert r.headers["x-publication"] == "load-2"
    assert r.json()["data"][0]["events"] == BASE_APRIL_EVENTS + 2
