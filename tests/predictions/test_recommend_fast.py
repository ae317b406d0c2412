"""The recommender's array code against the plain rules it implements (no database).

Scoring works on integer codes for speed: strings factorised by hashing, membership by binary
search, duplicates found by a per-row sort, the nearby fill sorted once per place. Each test
states the rule directly — numpy's own ``np.unique``/``np.isin``, or a Python loop over the
rows written from the module docstring — on synthetic data from
:mod:`predictions.recommend_synthetic`, and compares every value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from predictions import recommend_model as rm
from predictions.recommend_data import RecommendData
from predictions.recommend_synthetic import synthetic_data


@pytest.fixture(scope="module")
def data() -> RecommendData:
    return synthetic_data(600, days=540, seed=3)


@pytest.mark.parametrize(
    "values",
    [
        np.array(["b", "a", None, "ab", "a", "é", "🐶", "b"], dtype=object),
        np.array(["walking", "grooming", "walk", "grooming"]),  # fixed-width numpy strings
        np.array([], dtype=object),
    ],
)
def test_unique_codes_equal_numpy_unique_of_the_strings(values: np.ndarray) -> None:
    names, codes = rm.unique_codes(values)
    want_names, want_codes = np.unique(values.astype(str), return_inverse=True)
    assert names.tolist() == want_names.tolist()
    assert codes.tolist() == want_codes.tolist()


def test_sorted_membership_and_unique_equal_numpy() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 500, size=2_000)
    table = np.unique(rng.integers(0, 500, size=300))
    assert rm._sorted_unique(keys).tolist() == np.unique(keys).tolist()
    assert (rm._in_sorted(keys, table) == np.isin(keys, table)).all()
    assert not rm._in_sorted(keys, np.empty(0, dtype=np.int64)).any()


def test_repeat_shares_follow_the_definition(data: RecommendData) -> None:
    b = data.bookings
    last: dict[tuple[int, int], int] = {}
    n, repeats = Counter(), Counter()
    for i in sorted(range(b.size), key=lambda i: (b.customer[i], b.service[i], b.day[i])):
        pair = (int(b.customer[i]), int(b.service[i]))
        category = str(data.catalogue.category[pair[1]])
        n[category] += 1
        repeats[category] += pair in last and b.day[i] - last[pair] <= rm.RECENT_DAYS
        last[pair] = int(b.day[i])
    want = {k: repeats[k] / n[k] for k in sorted(n)}
    assert rm.repeat_shares(b, data.catalogue.category) == want
    assert 0 < sum(repeats.values()) < b.size  # both kinds occur


def test_nearby_fill_is_the_lexicographic_popularity_order(data: RecommendData) -> None:
    cust, cat = data.customers, data.catalogue
    asof = data.high_water_day
    ctx = rm.build_context(data, data.bookings, asof)
    w = data.bookings.take(data.bookings.day > asof - rm.POPULAR_DAYS)
    booked_species = {str(x) for x in w.pet_species}
    width = rm.TOP_K + rm.EXTRA
    groups = set()
    for i in range(cust.size):
        wanted = {x for x in cust.species[i] if x in booked_species}
        own, city, country, everywhere = Counter(), Counter(), Counter(), Counter()
        for c, s, species in zip(w.customer, w.service, w.pet_species, strict=True):
            everywhere[s] += 1
            country[s] += cust.country[c] == cust.country[i]
            if cust.city[c] == cust.city[i]:
                city[s] += 1
                own[s] += not wanted or species in wanted
        bookable = [s for s in range(cat.size) if cat.bookable[s]]
        order = sorted(bookable, key=lambda s: (-own[s], -city[s], -country[s], -everywhere[s], s))
        want = order[:width] + [-1] * (width - len(order[:width]))
        got = ctx.nearby[ctx.group[i]]
        assert got.tolist() == want, i
        total = max(float(sum(own.values())), 1.0)
        assert ctx.nearby_score[ctx.group[i]][: len(order)].tolist() == [
            own[s] / total for s in order[:width]
        ]
        groups.add(int(ctx.group[i]))
    assert len(groups) > 10  # many cities and species mixes


def test_merge_applies_the_ranking_rules_in_order(data: RecommendData) -> None:
    # Every service its own category: most then do not repeat, so recent bookings exclude.
    n_s = data.catalogue.size
    own_category = np.array([f"c{s}" for s in range(n_s)], dtype=object)
    data = replace(data, catalogue=replace(data.catalogue, category=own_category))
    ctx = rm.build_context(data, data.bookings, data.high_water_day)
    rows = np.flatnonzero(data.customers.active)
    rng = np.random.default_rng(11)
    width = rm.TOP_K + rm.EXTRA
    # Candidates with repeats, unbookable and missing (-1) services, the last columns empty
    # everywhere (as on the cold-start path), every third row with few (the fill tops up).
    cand = rng.integers(-1, n_s, size=(rows.size, width))
    cand[:, 25:] = -1
    cand[::3, 3:] = -1
    cand_score = np.round(rng.random((rows.size, width)), 3)
    got = rm._merge(ctx, rows, cand, cand_score, cand >= 0)

    excluded = set(ctx.excluded_keys.tolist())
    history = set(ctx.history_keys.tolist())
    bookable = set(ctx.bookable_idx.tolist())
    assert excluded and history
    excluded_cells = 0
    for r, row in enumerate(rows.tolist()):
        cells = [(s, x, True) for s, x in zip(cand[r], cand_score[r], strict=True) if s >= 0]
        fill = ctx.nearby[ctx.group[row]]
        cells += [
            (s, x, False) for s, x in zip(fill, ctx.nearby_score[ctx.group[row]], strict=True)
        ]
        svc, score, reason, seen = [], [], [], set()
        for s, x, from_model in cells:
            key = row * n_s + int(s)
            excluded_cells += key in excluded
            if s < 0 or s not in bookable or key in excluded or s in seen:
                continue
            seen.add(s)
            svc.append(int(s))
            score.append(float(x))
            reason.append((0 if key in history else 1) if from_model else 2)
            if len(svc) == rm.TOP_K:
                break
        pad = rm.TOP_K - len(svc)
        assert got.service[r].tolist() == svc + [-1] * pad, row
        assert got.score[r].tolist() == score + [0.0] * pad, row
        assert got.reason[r].tolist() == reason + [-1] * pad, row
    assert excluded_cells > 0  # the exclusion rule was exercised
    assert (got.reason == 0).any() and (got.reason == 1).any() and (got.reason == 2).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # item-item scores are float64
def test_top_sparse_takes_the_best_allowed_positive_items_ties_by_item(dtype: type) -> None:
    rng = np.random.default_rng(5)
    # Few distinct values, so ties are common; zeros and negatives are never offered.
    dense = rng.choice([0.0, 0.0, -0.5, 0.25, 0.5, 1.5, 3.0], size=(300, 90)).astype(dtype)
    allowed = np.sort(rng.choice(90, size=60, replace=False))
    ids, scores = rm._top_sparse(sp.csr_matrix(dense), allowed, 12)
    for row in range(dense.shape[0]):
        best = sorted(
            (col for col in allowed.tolist() if dense[row, col] > 0),
            key=lambda col: (-dense[row, col], col),
        )[:12]
        pad = 12 - len(best)
        assert ids[row].tolist() == best + [-1] * pad
        assert scores[row].tolist() == [float(dense[row, col]) for col in best] + [0.0] * pad
