"""Service recommendations: candidate models, baselines, the ranking rules and the metrics.

*Signal.* Each booking adds to its (customer, service) cell of an implicit-feedback matrix a
strength of ``0.5 ** (age / 180 days)`` × 2 when the customer rated it 4 or 5 (× 0.25 for 1
or 2) × 0.5 when it was cancelled or a no-show: recent, liked bookings count most.

*Candidates* (``implicit``, a maintained library): item–item cosine similarity and BM25-weighted
item–item similarity (both ``implicit.nearest_neighbours``) and alternating least squares
(``implicit.cpu.als``). *Baselines*: global popularity, and popularity within the customer's
last booked category (the two the issue asks for), and — a stronger reference — the
cold-start rule for everybody (most booked in the customer's city for their pets' species);
all count bookings of the last :data:`POPULAR_DAYS` days.

*Ranking rules* (the same for every candidate): only bookable services (active, vendor
active); a service the customer booked in the last :data:`RECENT_DAYS` days is dropped unless
repeat booking is the pattern of its category (a category is a *repeat category* when at
least :data:`REPEAT_SHARE` of its bookings repeat a service the customer booked in the
previous :data:`RECENT_DAYS` days — measured on the training data); slots the model cannot
fill, and customers without bookings (cold start), get the services most booked in the last
:data:`POPULAR_DAYS` days by customers of their city for their pets' species (then city,
country, everywhere). Each row says why: ``booked_before`` (the model ranks a service the
customer booked), ``similar_customers`` (the model ranks a service new to them),
``popular_nearby`` (the popularity fill).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from predictions.recommend_data import Bookings, RecommendData

CANDIDATES: tuple[str, ...] = ("item_cosine", "item_bm25", "als")
BASELINES: tuple[str, ...] = ("popularity", "last_category_popularity", "nearby_popularity")
HALF_LIFE_DAYS = 180.0
POPULAR_DAYS = 180
RECENT_DAYS = 60
REPEAT_SHARE = 0.25
TOP_K = 10
EXTRA = 30  # candidates asked of the model beyond TOP_K, for exclusions
BATCH = 10_000  # customers ranked at once: the merge holds ~15 arrays of BATCH x 40 8-byte cells

REASON_BOOKED = "booked_before"
REASON_SIMILAR = "similar_customers"
REASON_NEARBY = "popular_nearby"
REASONS: tuple[str, ...] = (REASON_BOOKED, REASON_SIMILAR, REASON_NEARBY)


def strengths(bookings: Bookings, asof_day: int) -> np.ndarray:
    """Per-booking implicit-feedback strength (module docstring)."""
    age = np.maximum(asof_day - bookings.day, 0)
    w = 0.5 ** (age / HALF_LIFE_DAYS)
    w = w * np.where(bookings.rating >= 4, 2.0, np.where(bookings.rating <= 2, 0.25, 1.0))
    return w * np.where(bookings.cancelled, 0.5, 1.0)


def interaction_matrix(
    bookings: Bookings, n_customers: int, n_services: int, asof_day: int
) -> sp.csr_matrix:
    """Customers × services strengths (duplicates summed)."""
    m = sp.csr_matrix(
        (strengths(bookings, asof_day).astype(np.float32), (bookings.customer, bookings.service)),
        shape=(n_customers, n_services),
    )
    m.sum_duplicates()
    return m


def repeat_shares(bookings: Bookings, categories: np.ndarray) -> dict[str, float]:
    """Per category: share of bookings repeating a service booked in the previous RECENT_DAYS."""
    if bookings.size == 0:
        return {}
    n_s = categories.size
    first_day = int(bookings.day.min())
    span = int(bookings.day.max()) - first_day + 1
    if (int(bookings.customer.max()) + 1) * n_s * span < 2**62:
        # One int64 key (customer, service, day) sorts far faster than a three-key lexsort;
        # equal keys are equal triples, so the result does not depend on their order.
        key = np.sort(
            (bookings.customer * n_s + bookings.service) * span + bookings.day - first_day
        )
        pair, d = np.divmod(key, span)
        c, s = np.divmod(pair, n_s)
    else:
        order = np.lexsort((bookings.day, bookings.service, bookings.customer))
        c, s, d = bookings.customer[order], bookings.service[order], bookings.day[order]
    same = np.zeros(c.size, dtype=bool)
    same[1:] = (c[1:] == c[:-1]) & (s[1:] == s[:-1]) & (d[1:] - d[:-1] <= RECENT_DAYS)
    # Categories as codes per service (names sorted as np.unique sorts them): counting by
    # code is exact, and a mask per category over every booking is not needed.
    names, code = unique_codes(categories)
    cat = code[s]
    n = np.bincount(cat, minlength=names.size)
    repeats = np.bincount(cat[same], minlength=names.size)
    # The count of a bool mean is exact in float64, so this is bit-equal to ``mask.mean()``.
    return {str(names[k]): float(repeats[k] / n[k]) for k in np.flatnonzero(n)}


def unique_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values.astype(str), return_inverse=True)``, by hashing instead of sorting.

    Sorting millions of Python strings is what made scoring slow; only the few distinct
    values are sorted here (the same order as ``np.unique``).
    """
    try:
        arr = pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.unique(np.asarray(values).astype(str), return_inverse=True)
    if arr.null_count:
        arr = arr.fill_null("None")  # what ``astype(str)`` makes of None
    encoded = arr.dictionary_encode()
    distinct = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    names, remap = np.unique(distinct.astype(str), return_inverse=True)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    return names, remap.astype(np.intp)[codes]


@dataclass
class Context:
    """What ranking needs besides the model, as of one day, from the bookings up to it."""

    data: RecommendData
    asof_day: int
    bookings: Bookings
    matrix: sp.csr_matrix  # customers × services strengths
    repeat: dict[str, float]
    repeat_categories: frozenset[str]
    excluded_keys: np.ndarray  # sorted customer * n_services + service pairs never offered
    history_keys: np.ndarray  # sorted pairs the customer booked
    last_category: np.ndarray  # per customer: category index, -1 none
    category_names: np.ndarray
    group: np.ndarray  # per customer: popularity group index
    nearby: np.ndarray  # (groups, TOP_K + EXTRA) service index, -1 padding
    nearby_score: np.ndarray
    popular: np.ndarray  # (TOP_K + EXTRA,) bookable services by recent bookings
    popular_by_category: np.ndarray  # (categories, TOP_K + EXTRA)
    bookable_idx: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` of integer keys by one sort (numpy 2's hashing unique is slower here)."""
    ordered = np.sort(keys)
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first]


def _ranked(score: np.ndarray, allowed: np.ndarray, width: int) -> np.ndarray:
    """Indexes of the ``width`` best allowed entries (ties by index), -1 padded."""
    idx = np.flatnonzero(allowed)
    order = idx[np.lexsort((idx, -score[idx]))][:width]
    return np.concatenate([order, np.full(width - order.size, -1, dtype=np.int64)])


def build_context(data: RecommendData, bookings: Bookings, asof_day: int) -> Context:
    """The ranking context from ``bookings`` (those up to ``asof_day``)."""
    cust, cat = data.customers, data.catalogue
    n_c, n_s = cust.size, cat.size
    width = TOP_K + EXTRA
    names, cat_index = unique_codes(cat.category)
    matrix = interaction_matrix(bookings, n_c, n_s, asof_day)
    shares = repeat_shares(bookings.take(bookings.day > asof_day - 365), cat.category)
    repeat = frozenset(k for k, v in shares.items() if v >= REPEAT_SHARE)
    recent = bookings.take(bookings.day > asof_day - RECENT_DAYS)
    service_repeats = np.isin(names, list(repeat))[cat_index]  # per service, not per booking
    no_repeat = ~service_repeats[recent.service]
    excluded = _sorted_unique(recent.customer[no_repeat] * n_s + recent.service[no_repeat])
    history = _sorted_unique(bookings.customer.astype(np.int64) * n_s + bookings.service)

    last_cat = np.full(n_c, -1, dtype=np.int64)
    last_cat[bookings.customer] = cat_index[bookings.service]  # time order: the last stays

    window = bookings.take(bookings.day > asof_day - POPULAR_DAYS)
    bookable = cat.bookable
    popular_count = np.bincount(window.service, minlength=n_s).astype(float)
    popular = _ranked(popular_count, bookable, width)
    by_cat = np.stack(
        [_ranked(popular_count, bookable & (cat_index == k), width) for k in range(names.size)]
    )

    # Popularity groups: (city, country, species) of each customer; counts of the window's
    # bookings by (customer city, booked pet's species) and by customer country.
    city_names, city_code = unique_codes(cust.city)
    country_names, country_code = unique_codes(cust.country)
    species_text, species_set = unique_codes(
        np.array(["/".join(s) for s in cust.species], dtype=object)
    )
    # The group key is the string city \x1f country \x1f species: built for the distinct
    # (city, country, species) codes only, then numbered in the string order np.unique gives.
    combo = (city_code * country_names.size + country_code) * species_text.size + species_set
    combos, combo_first, combo_of = np.unique(combo, return_index=True, return_inverse=True)
    n_cs = country_names.size * species_text.size
    combo_keys = np.array(
        [
            f"{city_names[k // n_cs]}\x1f{country_names[k // species_text.size % country_names.size]}"
            f"\x1f{species_text[k % species_text.size]}"
            for k in combos.tolist()
        ],
        dtype=str,
    )
    group_keys, combo_group = np.unique(combo_keys, return_inverse=True)
    group = combo_group.astype(np.intp)[combo_of]
    first_of_group = np.full(group_keys.size, cust.size, dtype=np.intp)
    np.minimum.at(first_of_group, combo_group, combo_first)
    species_names, species_code = unique_codes(window.pet_species)
    n_city, n_sp = city_names.size, species_names.size
    b_city = city_code[window.customer]
    by_city_species = (
        np.bincount(
            (b_city * n_sp + species_code) * n_s + window.service, minlength=n_city * n_sp * n_s
        )
        .reshape(n_city, n_sp, n_s)
        .astype(float)
    )
    by_city = by_city_species.sum(axis=1)
    by_country = (
        np.bincount(
            country_code[window.customer] * n_s + window.service,
            minlength=country_names.size * n_s,
        )
        .reshape(country_names.size, n_s)
        .astype(float)
    )
    species_index = {name: i for i, name in enumerate(species_names)}
    nearby = np.full((group_keys.size, width), -1, dtype=np.int64)
    nearby_score = np.zeros((group_keys.size, width))
    idx = np.flatnonzero(bookable)
    # The order is lexicographic: city + species, then city, then country, then everywhere,
    # then index. All but the first key depend on (city, country) only, so that order is
    # sorted once per place; a group then sorts only its services with own bookings (own
    # counts are >= 0, so those come first) and fills up from the place's order.
    by_place: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for g, row in enumerate(first_of_group):
        ci, ki = int(city_code[row]), int(country_code[row])
        wanted = [species_index[x] for x in cust.species[row] if x in species_index]
        own = by_city_species[ci, wanted].sum(axis=0) if wanted else by_city[ci]
        if (ci, ki) not in by_place:
            place = idx[
                np.lexsort((idx, -popular_count[idx], -by_country[ki, idx], -by_city[ci, idx]))
            ]
            rank_in_place = np.empty(n_s, dtype=np.int64)
            rank_in_place[place] = np.arange(place.size)
            by_place[(ci, ki)] = place, rank_in_place
        place, rank_in_place = by_place[(ci, ki)]
        mine = place[own[place] > 0]
        mine = mine[np.lexsort((rank_in_place[mine], -own[mine]))][:width]
        rest = place[own[place] <= 0][: width - mine.size]
        order = np.concatenate([mine, rest])
        nearby[g, : order.size] = order
        nearby_score[g, : order.size] = own[order] / max(own.sum(), 1.0)
    return Context(
        data=data, asof_day=asof_day, bookings=bookings, matrix=matrix, repeat=shares,
        repeat_categories=repeat, excluded_keys=excluded, history_keys=history,
        last_category=last_cat, category_names=names, group=group, nearby=nearby,
        nearby_score=nearby_score, popular=popular, popular_by_category=by_cat,
        bookable_idx=np.flatnonzero(bookable),
    )  # fmt: skip


# ---- candidate models -------------------------------------------------------------------


def make_model(name: str, *, seed: int = 42) -> Any:
    """An unfitted ``implicit`` model for a candidate name."""
    if name == "item_cosine":
        from implicit.nearest_neighbours import CosineRecommender

        return CosineRecommender(K=100)
    if name == "item_bm25":
        from implicit.nearest_neighbours import BM25Recommender

        return BM25Recommender(K=100, K1=1.2, B=0.75)
    if name == "als":
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=64, regularization=0.05, alpha=10.0, iterations=15, random_state=seed
        )
    raise ValueError(f"unknown candidate {name!r}; candidates are {', '.join(CANDIDATES)}")


def fit(name: str, matrix: sp.csr_matrix, *, seed: int = 42) -> Any:
    """Fit a candidate on a customers × services matrix (BLAS kept to one thread for ALS)."""
    import warnings

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        model = make_model(name, seed=seed)
        # BM25 re-weights into COO and converts back itself; the notice is not ours to act on.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(matrix.tocsr().astype(np.float32), show_progress=False)
    return model


def save_model(model: Any) -> bytes:
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


def load_model(name: str, payload: bytes) -> Any:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        return type(make_model(name)).load(io.BytesIO(payload))


@dataclass
class Ranking:
    """TOP_K recommendations per customer row: service index, score and reason code."""

    customers: np.ndarray
    service: np.ndarray  # (n, TOP_K), -1 when nothing to offer
    score: np.ndarray
    reason: np.ndarray  # (n, TOP_K) int8 index into REASONS, -1 when empty
    warm: np.ndarray | None = None  # per row: the model ranked it (else cold start)


def _in_sorted(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_unique)`` for a sorted key array: a binary search per value."""
    if sorted_unique.size == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_unique, values), sorted_unique.size - 1)
    return sorted_unique[at] == values


def _merge(
    ctx: Context,
    rows: np.ndarray,
    cand: np.ndarray,
    cand_score: np.ndarray,
    from_model: np.ndarray,
) -> Ranking:
    """Apply the ranking rules to candidates (model's first), fill from popularity nearby."""
    n_s = ctx.data.catalogue.size
    # Candidate columns empty in every row (all of them on the cold-start path) cannot
    # change the result: drop them before the per-cell work.
    live = from_model.any(axis=0)
    cand, cand_score, from_model = cand[:, live], cand_score[:, live], from_model[:, live]
    fill = ctx.nearby[ctx.group[rows]]
    fill_score = ctx.nearby_score[ctx.group[rows]]
    svc = np.concatenate([cand, fill], axis=1)
    score = np.concatenate([cand_score, fill_score], axis=1)
    model_col = np.concatenate([from_model, np.zeros(fill.shape, dtype=bool)], axis=1)
    keys = rows[:, None].astype(np.int64) * n_s + np.maximum(svc, 0)
    bookable = np.zeros(n_s + 1, dtype=bool)
    bookable[ctx.bookable_idx] = True
    valid = (svc >= 0) & bookable[np.where(svc >= 0, svc, n_s)]
    valid &= ~_in_sorted(keys, ctx.excluded_keys)
    # First occurrence per (row, service) only: a stable sort within each row puts equal
    # services side by side, earliest column first (invalid cells get distinct values).
    width = svc.shape[1]
    cols = np.broadcast_to(np.arange(width), svc.shape)
    marked = np.where(valid, svc, n_s + cols)
    by_service = np.argsort(marked, axis=1, kind="stable")
    in_order = np.take_along_axis(marked, by_service, 1)
    repeated = np.zeros(svc.shape, dtype=bool)
    repeated[:, 1:] = in_order[:, 1:] == in_order[:, :-1]
    later = np.zeros(svc.shape, dtype=bool)
    np.put_along_axis(later, by_service, repeated, 1)
    valid &= ~later
    # The first TOP_K valid cells of each row, in column order (a stable sort of ~valid).
    slot = np.cumsum(valid, axis=1) - 1
    put = valid & (slot < TOP_K)
    r_idx, c_idx = np.nonzero(put)
    s_idx = slot[put]
    out_svc = np.full((rows.size, TOP_K), -1, dtype=svc.dtype)
    out_score = np.zeros((rows.size, TOP_K), dtype=score.dtype)
    out_model = np.zeros((rows.size, TOP_K), dtype=bool)
    ok = np.zeros((rows.size, TOP_K), dtype=bool)
    out_svc[r_idx, s_idx] = svc[r_idx, c_idx]
    out_score[r_idx, s_idx] = score[r_idx, c_idx]
    out_model[r_idx, s_idx] = model_col[r_idx, c_idx]
    ok[r_idx, s_idx] = True
    booked = _in_sorted(
        rows[:, None].astype(np.int64) * n_s + np.maximum(out_svc, 0), ctx.history_keys
    )
    reason = np.where(out_model, np.where(booked, 0, 1), 2).astype(np.int8)
    reason = np.where(ok, reason, -1).astype(np.int8)
    return Ranking(rows, out_svc, out_score, reason)


def _top_sparse(
    scores: sp.csr_matrix, allowed: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best positive, allowed columns per row of a sparse score matrix (-1 padded)."""
    coo = scores.tocoo()
    mask = np.zeros(scores.shape[1], dtype=bool)
    mask[allowed] = True
    keep = mask[coo.col] & (coo.data > 0)
    r, c, d = coo.row[keep], coo.col[keep], coo.data[keep]
    # Per row: best score first, ties by item. The distinct scores are numbered best first,
    # so (row, score number, item) packs into one int64 key: one sort instead of a
    # three-key lexsort (about 1.7x faster on ten million scores).
    values, number = np.unique(-d, return_inverse=True)
    r_bits = int(scores.shape[0] - 1).bit_length()
    v_bits = int(max(values.size - 1, 0)).bit_length()
    c_bits = int(scores.shape[1] - 1).bit_length()
    if r_bits + v_bits + c_bits <= 63:
        key = (r.astype(np.int64) << (v_bits + c_bits)) | (number.astype(np.int64) << c_bits)
        key |= c.astype(np.int64)
        key.sort()
        r = key >> (v_bits + c_bits)
        c = key & ((1 << c_bits) - 1)
        d = -values[(key >> c_bits) & ((1 << v_bits) - 1)]
    else:
        order = np.lexsort((c, -d, r))
        r, c, d = r[order], c[order], d[order]
    pos = np.arange(r.size) - np.searchsorted(r, r, side="left")
    sel = pos < n
    ids = np.full((scores.shape[0], n), -1, dtype=np.int64)
    out = np.zeros((scores.shape[0], n))
    ids[r[sel], pos[sel]] = c[sel]
    out[r[sel], pos[sel]] = d[sel]
    return ids, out


def _model_top(
    model: Any, user_items: sp.csr_matrix, users: np.ndarray, allowed: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` allowed items per user row: (item ids, scores), -1 / 0 padded."""
    if hasattr(model, "similarity"):
        # Item-item: a user's scores are their strengths times the item similarities; one
        # sparse product per batch (implicit's own batch call loops over users in Python).
        return _top_sparse(user_items @ model.similarity.tocsr(), allowed, n)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        ids, scores = model.recommend(
            users, user_items, N=min(n, allowed.size), filter_already_liked_items=False,
            recalculate_user=True, items=allowed,
        )  # fmt: skip
    ids = np.asarray(ids, dtype=np.int64).reshape(users.size, -1)
    scores = np.asarray(scores, dtype=float).reshape(users.size, -1)
    return ids, scores


def rank_with_model(
    model: Any | None, model_items: np.ndarray, ctx: Context, rows: np.ndarray
) -> Ranking:
    """Recommendations for customer ``rows`` from a fitted model.

    ``model_items`` maps the model's item indexes to catalogue indexes (-1: service gone).
    Customers without bookings the model knows go straight to the popularity fill (cold
    start), and so does everybody when ``model`` is None (no model trained yet).
    """
    n_items = model_items.size
    to_model = np.full(ctx.data.catalogue.size, -1, dtype=np.int64)
    known = model_items >= 0
    to_model[model_items[known]] = np.flatnonzero(known)
    m = ctx.matrix.tocoo()
    keep = to_model[m.col] >= 0
    user_items = sp.csr_matrix(
        (m.data[keep], (m.row[keep], to_model[m.col[keep]])),
        shape=(ctx.data.customers.size, n_items),
        dtype=np.float32,
    )
    allowed = to_model[ctx.bookable_idx]
    allowed = np.sort(allowed[allowed >= 0])
    width = TOP_K + EXTRA
    parts: list[Ranking] = []
    for start in range(0, rows.size, BATCH):
        chunk = rows[start : start + BATCH]
        has = np.diff(user_items.indptr)[chunk] > 0
        cand = np.full((chunk.size, width), -1, dtype=np.int64)
        cand_score = np.zeros((chunk.size, width))
        warm = chunk[has]
        if model is not None and warm.size and allowed.size:
            ids, scores = _model_top(model, user_items[warm], warm, allowed, width)
            good = (ids >= 0) & (scores > 0) & np.isfinite(scores)
            mapped = np.where(good, model_items[np.maximum(ids, 0)], -1)
            cand[has, : mapped.shape[1]] = mapped
            cand_score[has, : mapped.shape[1]] = np.where(good, scores, 0.0)
        part = _merge(ctx, chunk, cand, cand_score, cand >= 0)
        part.warm = has & (model is not None)
        parts.append(part)
    return _concat(parts, rows)


def _concat(parts: list[Ranking], rows: np.ndarray) -> Ranking:
    if not parts:
        empty = np.empty((0, TOP_K))
        return Ranking(rows, empty.astype(np.int64), empty, empty.astype(np.int8))
    return Ranking(
        rows,
        np.concatenate([p.service for p in parts]),
        np.concatenate([p.score for p in parts]),
        np.concatenate([p.reason for p in parts]),
        np.concatenate([p.warm for p in parts if p.warm is not None]),
    )


def rank_baseline(name: str, ctx: Context, rows: np.ndarray) -> Ranking:
    """A baseline's recommendations (no exclusions: baselines are what they say)."""
    if name == "popularity":
        svc = np.broadcast_to(ctx.popular[:TOP_K], (rows.size, TOP_K)).copy()
    elif name == "nearby_popularity":  # the cold-start rule applied to everybody
        svc = ctx.nearby[ctx.group[rows], :TOP_K]
    elif name == "last_category_popularity":
        last = ctx.last_category[rows]
        svc = np.where(
            (last >= 0)[:, None],
            ctx.popular_by_category[np.maximum(last, 0), :TOP_K],
            ctx.popular[None, :TOP_K],
        )
    else:
        raise ValueError(f"unknown baseline {name!r}; baselines are {', '.join(BASELINES)}")
    ok = svc >= 0
    return Ranking(rows, svc, ok.astype(float), np.where(ok, 2, -1).astype(np.int8))


# ---- metrics ----------------------------------------------------------------------------


def truth_keys(data: RecommendData, test: Bookings) -> tuple[np.ndarray, np.ndarray]:
    """Evaluated customers (who booked in the test window) and their (customer, service) keys."""
    n_s = data.catalogue.size
    keys = np.unique(test.customer.astype(np.int64) * n_s + test.service)
    return np.unique(test.customer), keys


def metrics(
    ranking: Ranking, truth: np.ndarray, n_services: int, n_bookable: int
) -> dict[str, float]:
    """hit_rate_at_5, recall_at_10, ndcg_at_10 and catalogue_coverage of a ranking."""
    rows = ranking.customers
    if rows.size == 0:
        return {"hit_rate_at_5": 0.0, "recall_at_10": 0.0, "ndcg_at_10": 0.0,
                "catalogue_coverage": 0.0}  # fmt: skip
    keys = rows[:, None].astype(np.int64) * n_services + np.maximum(ranking.service, 0)
    hits = np.isin(keys, truth) & (ranking.service >= 0)
    truth_rows = truth // n_services
    n_true = np.bincount(truth_rows, minlength=int(rows.max()) + 1)[rows]
    discount = 1.0 / np.log2(np.arange(TOP_K) + 2.0)
    ideal = np.cumsum(discount)[np.minimum(n_true, TOP_K) - 1]
    shown = np.unique(ranking.service[ranking.service >= 0])
    return {
        "hit_rate_at_5": float(hits[:, :5].any(axis=1).mean()),
        "recall_at_10": float((hits[:, :TOP_K].sum(axis=1) / n_true).mean()),
        "ndcg_at_10": float(((hits[:, :TOP_K] * discount).sum(axis=1) / ideal).mean()),
        "catalogue_coverage": float(shown.size / max(n_bookable, 1)),
    }
