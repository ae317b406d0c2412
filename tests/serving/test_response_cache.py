"""The response cache: never an answer of a previous publication, never a different answer.

The API keeps answers per (publication, request) in each worker (``serving.responses``).
These tests publish the hand-made fixture, ask, publish a new version with different data
(under the *same* run id, so only the version can tell them apart) and ask the very same
URLs again: the answers must be the new figures, computed by hand from the fixture rows. A
server with the cache turned off must give byte-identical answers and ETags.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.responses import ResponseCache

C1 = "00000000-0000-4000-8000-000000000001"
V2_APRIL = "/v2/active-customers?interval=month&start=2024-04-01&end=2024-04-30"
COMPAT_APRIL = "/analytics/customer-activity?startDate=2024-04-01&endDate=2024-04-30&interval=month"
# April in the fixture: C1 booking 04-02 (1), C5 booking 04-05 (2), C5 login 04-09 (4),
# C6 login 04-01 (1): 8 events, 5 of them logins, 3 bookings. The second publication adds
# 2 logins of C1 on 04-03: 10 events, 7 logins.
FIRST = {"events": 8, "logins": 5}
SECOND = {"events": 10, "logins": 7}


def _figures(client: TestClient, admin: dict[str, str], etags: dict[str, str] | None = None):
    v2 = client.get(
        V2_APRIL, headers={**admin, **({"If-None-Match": etags["v2"]} if etags else {})}
    )
    compat = client.get(
        COMPAT_APRIL, headers={**admin, **({"If-None-Match": etags["compat"]} if etags else {})}
    )
    assert v2.status_code == 200, v2.text
    assert compat.status_code == 200, compat.text
    logins = [r["count"] for r in compat.json() if r["activity_type"] == "login"]
    figures = {"events": v2.json()["data"][0]["events"], "logins": logins[0]}
    return figures, {"v2": v2.headers["etag"], "compat": compat.headers["etag"]}, (v2, compat)


def test_a_new_publication_is_never_answered_from_the_cache(published, fixture_tools, admin):
    with TestClient(create_app(published.settings)) as client:
        cache: ResponseCache = client.app.state.cache
        first, etags, _ = _figures(client, admin)
        assert first == FIRST
        assert len(cache) == 2  # both answers are now cached
        again, same_etags, _ = _figures(client, admin)  # answered from the cache
        assert again == FIRST and same_etags == etags

        # Same run id, different data: only the publication version tells them apart.
        fixture_tools["build_publication"](
            published.settings, run_id="run-1", extra_daily=[(C1, "2024-04-03", "login", 2)]
        )
        # The old ETags must not earn a 304 either: the answer changed.
        second, new_etags, _ = _figures(client, admin, etags)
        assert second == SECOND
        assert new_etags["v2"] != etags["v2"] and new_etags["compat"] != etags["compat"]


def test_the_cache_changes_no_answer(published, admin):
    paths = [
        V2_APRIL,
        COMPAT_APRIL,
        "/v2/customer-growth?interval=week&start=2024-01-01&end=2024-03-31&gender=female",
        "/v2/customer-demographics?dimension=pet_species",
        "/analytics/customer-demographics",
        "/analytics/customer-retention",
        "/activities/statistics?startDate=2024-02-01&endDate=2024-03-31&groupBy=week",
    ]
    with (
        TestClient(create_app(published.settings)) as cached,
        TestClient(create_app(published.settings, cache_entries=0)) as uncached,
    ):
        for path in paths:
            answers = [cached.get(path, headers=admin) for _ in range(2)]  # miss, then hit
            plain = uncached.get(path, headers=admin)
            assert plain.status_code == 200, (path, plain.text)
            for answer in answers:
                assert answer.status_code == 200, (path, answer.text)
                assert answer.content == plain.content, path
                assert answer.headers["etag"] == plain.headers["etag"], path
                assert answer.headers["content-type"] == plain.headers["content-type"], path
        assert len(uncached.app.state.cache) == 0
        assert len(cached.app.state.cache) == len(paths)


def test_cache_bounds_entries_and_bytes():
    cache = ResponseCache(max_entries=2, max_bytes=10)
    cache.put(("p1", "a"), (b"aaaa", 1))
    cache.put(("p1", "b"), (b"bbbb", 1))
    assert cache.get(("p1", "a")) == (b"aaaa", 1)  # a is now the most recently used
    cache.put(("p1", "c"), (b"cc", 1))  # 3 entries > 2: the least recently used (b) goes
    assert cache.get(("p1", "b")) is None
    assert cache.get(("p1", "a")) is not None and cache.get(("p1", "c")) is not None
    cache.put(("p2", "a"), (b"dddddddd", 1))  # 8 + older bytes > 10: older entries go
    assert cache.bytes <= 10
    assert cache.get(("p2", "a")) == (b"dddddddd", 1)
    assert cache.get(("p1", "a")) is None

    off = ResponseCache(max_entries=0)
    off.put(("p1", "a"), (b"x", 1))
    assert off.get(("p1", "a")) is None and len(off) == 0
