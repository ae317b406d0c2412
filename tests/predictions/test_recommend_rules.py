"""The recommender's ranking rules and metrics on small hand-made data (no database).

Catalogue (Berlin unless said): S0 grooming, S1 grooming but not bookable, S2 walking,
S3 veterinary, S4 grooming in Paris, S5 other. Expected rankings and figures below were
worked out by hand from these rows.
"""

from __future__ import annotations

import numpy as np
import pytest

from predictions import recommend_model as rm
from predictions.recommend_data import Bookings, Catalogue, Customers, RecommendData

HWM = 20_000  # day number of the high-water date


def catalogue() -> Catalogue:
    return Catalogue(
        ids=np.array([f"s{i}" for i in range(6)], dtype=object),
        vendor_id=np.array(["v0", "v1", "v0", "v2", "v3", "v4"], dtype=object),
        category=np.array(
            ["grooming", "grooming", "walking", "veterinary", "grooming", "other"], dtype=object
        ),
        city=np.array(["Berlin"] * 4 + ["Paris", "Berlin"], dtype=object),
        country=np.array(["DE"] * 4 + ["FR", "DE"], dtype=object),
        bookable=np.array([True, False, True, True, True, True]),
    )


def customers() -> Customers:
    # A: Berlin dog owner with history; B: Berlin dog owner, no bookings; C: Paris cat owner,
    # no bookings; D..G: Berlin dog owners whose bookings make the popularity counts.
    n = 7
    return Customers(
        ids=np.array(list("ABCDEFG"), dtype=object),
        city=np.array(["Berlin", "Berlin", "Paris"] + ["Berlin"] * 4, dtype=object),
        country=np.array(["DE", "DE", "FR"] + ["DE"] * 4, dtype=object),
        species=np.array([("dog",), ("dog",), ("cat",)] + [("dog",)] * 4 + [()], dtype=object)[:n],
        active=np.ones(n, dtype=bool),
    )


def bookings(rows: list[tuple[int, int, int, float]]) -> Bookings:
    """(customer, service, days before the high-water date, rating or NaN)."""
    rows = sorted(rows, key=lambda row: -row[2])  # time order, as read from the marts
    c, s, d, r = (np.array(x) for x in zip(*rows, strict=True))
    species = np.array(["cat" if x == 2 else "dog" for x in c], dtype=object)
    return Bookings(c, s, HWM - d, r.astype(float), np.zeros(c.size, dtype=bool), species)


NAN = float("nan")
# Bookings of Berlin dog owners in the last 180 days: S1 x5 (not bookable), S2 x3, S0 x3
# (G twice, A once), S3 x1, S5 x1; C's Paris booking is older than the popularity window.
ROWS = [
    (3, 1, 100, NAN), (4, 1, 90, NAN), (5, 1, 80, NAN), (6, 1, 70, NAN), (3, 1, 20, NAN),
    (3, 2, 50, NAN), (4, 2, 40, NAN), (5, 2, 30, NAN),
    (6, 0, 60, NAN), (6, 0, 30, NAN),
    (5, 3, 10, NAN),
    (0, 0, 12, 5.0), (0, 5, 10, NAN),
    (2, 4, 400, NAN),  # Paris, long ago: outside the popularity window
]  # fmt: skip


def data(rows: list[tuple[int, int, int, float]] = ROWS) -> RecommendData:
    return RecommendData(customers(), catalogue(), bookings(rows), HWM)


def test_repeat_categories_are_measured_from_the_bookings() -> None:
    d = data()
    shares = rm.repeat_shares(d.bookings, d.catalogue.category)
    # grooming: S1 by D at -100 then -20 (80 days apart: not a repeat), G's S0 at -60 then
    # -30 (a repeat): 1 repeat of 9 grooming bookings; "other" (A's S5): 0 of 1.
    assert shares["grooming"] == pytest.approx(1 / 9)
    assert shares["other"] == 0.0
    assert shares["walking"] == 0.0


def test_cold_start_gets_most_booked_bookable_services_of_city_and_species() -> None:
    d = data()
    ctx = rm.build_context(d, d.bookings, HWM)
    ranking = rm.rank_with_model(None, np.empty(0, dtype=np.int64), ctx, np.array([1]))
    services = [int(s) for s in ranking.service[0] if s >= 0]
    # S1 is the most booked but cannot be booked; then S0 and S2 (3 each, ties by id), S3 and
    # S5 (1 each), S4 last (Paris, booked only outside the window).
    assert services == [0, 2, 3, 5, 4]
    assert set(ranking.reason[0][ranking.service[0] >= 0]) == {2}  # popular_nearby
    assert not ranking.warm.any()


def test_recently_booked_service_is_dropped_unless_its_category_repeats() -> None:
    # Make grooming a repeat category: A and G rebook S0 within 60 days (4 repeats of 11
    # grooming bookings in the last year).
    rows = [*ROWS, (0, 0, 5, 5.0), (6, 0, 8, NAN), (6, 0, 2, NAN)]
    d = data(rows)
    ctx = rm.build_context(d, d.bookings, HWM)
    assert "grooming" in ctx.repeat_categories and "other" not in ctx.repeat_categories
    model = rm.fit("item_cosine", ctx.matrix)
    ranking = rm.rank_with_model(model, np.arange(d.catalogue.size), ctx, np.array([0]))
    services = [int(s) for s in ranking.service[0] if s >= 0]
    assert 5 not in services  # "other", booked 10 days ago, not a repeat category
    assert 1 not in services  # not bookable
    assert 0 in services  # grooming repeats: S0 stays
    reason = dict(zip(services, ranking.reason[0][: len(services)], strict=True))
    assert rm.REASONS[reason[0]] == "booked_before"
    assert ranking.warm.all()


def test_metrics_by_hand() -> None:
    n_s = 6
    shown = np.full((2, 10), -1)
    shown[0, :3] = [2, 0, 3]
    shown[1, :3] = [5, 4, 0]
    ranking = rm.Ranking(
        customers=np.array([0, 1]),
        service=shown,
        score=np.zeros((2, 10)),
        reason=np.zeros((2, 10), dtype=np.int8),
    )
    # Customer 0 booked S0 and S5 in the test window; customer 1 booked S0.
    truth = np.array([0 * n_s + 0, 0 * n_s + 5, 1 * n_s + 0])
    m = rm.metrics(ranking, truth, n_s, n_bookable=10)
    # hit@5: customer 0 has S0 at rank 2, customer 1 at rank 3 -> 1.0
    assert m["hit_rate_at_5"] == pytest.approx(1.0)
    # recall@10: 1/2 and 1/1 -> 0.75
    assert m["recall_at_10"] == pytest.approx(0.75)
    # NDCG@10: c0 = (1/log2 3) / (1 + 1/log2 3); c1 = (1/log2 4) / 1
    c0 = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert m["ndcg_at_10"] == pytest.approx((c0 + 0.5) / 2)
    # coverage: services shown {0, 2, 3, 4, 5} of 10 bookable
    assert m["catalogue_coverage"] == pytest.approx(0.5)


def test_baselines() -> None:
    d = data()
    ctx = rm.build_context(d, d.bookings, HWM)
    pop = rm.rank_baseline("popularity", ctx, np.array([0, 1]))
    # Bookable services by bookings in the window: S0 3 (G twice, A once), S2 3, S3 1, S5 1.
    assert list(pop.service[0][:4]) == [0, 2, 3, 5]
    last = rm.rank_baseline("last_category_popularity", ctx, np.array([0, 1]))
    assert list(last.service[0][:1]) == [5]  # A's last booking is "other": S5 only
    assert list(last.service[1][:4]) == [0, 2, 3, 5]  # no history: global popularity
