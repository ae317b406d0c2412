"""`python -m bench api --service-times`: the work behind the cold figures, on a real server.

The benchmark starts `petpro serve` on a publication and sends each request of its mix once;
here on the hand-built publication of the serving tests, with a small mix. What is checked is
what the figures rest on: every answer was a 200 (the benchmark counts the others), every
request was timed, and each one is filed under its endpoint and filter.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from bench.bench_api import _answer_kind
from petpro.settings import REPO_ROOT


def test_each_request_is_filed_under_its_endpoint_and_filter() -> None:
    segments = {"age_group": ["25-34"], "pet_species": ["dog"]}
    assert _answer_kind("/v2/segments", segments) == "/v2/segments (no filter)"
    assert (
        _answer_kind("/v2/active-users?start=2024-01-01&age_group=25-34", segments)
        == "/v2/active-users (segment)"
    )
    assert (
        _answer_kind("/v2/customer-activity?activity_type=login&pet_species=dog", segments)
        == "/v2/customer-activity (segment + types)"
    )
    assert (
        _answer_kind("/v2/active-customers?activity_type=login,review_submitted", segments)
        == "/v2/active-customers (types)"
    )
    # The demographics endpoint names a dimension; that is what it reports, not a filter.
    assert (
        _answer_kind("/v2/customer-demographics?dimension=age_group", segments)
        == "/v2/customer-demographics (no filter)"
    )


def test_service_times_time_every_request_of_the_mix(published: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "api", "--home", str(published.settings.home),
         "--mix", "40", "--service-times"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PETPRO_HOME": str(published.settings.home),
             "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = re.search(
        r"(\d+) answers in ([0-9.]+) s, ([0-9.]+) ms on average \(errors (\d+)\)", done.stdout
    )
    assert summary, done.stdout[-2000:]
    assert summary.group(1) == "40" and summary.group(4) == "0"
    rows = re.findall(r"│ (/\S+ \([a-z +]+\))\s+│\s+(\d+) │", done.stdout)
    assert sum(int(n) for _, n in rows) == 40
    assert any(kind.startswith("/v2/") for kind, _ in rows)
    assert any(kind.startswith("/analytics/") for kind, _ in rows)
