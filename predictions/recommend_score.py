"""Scoring: the recommendation marts of a publication, as a derived-marts step of the publish.

:func:`recommendation_marts` runs inside ``warehouse.publish.publish(derive=[...])`` on the
staged version: it reads that version's marts (:mod:`predictions.recommend_data`), loads the
latest trained ``service_recommender`` version (:mod:`predictions.registry`) and ranks
:data:`~predictions.recommend_model.TOP_K` bookable services for every *active* customer
(active in the 90 days up to the high-water date, account not deactivated). It returns two
marts of the same publication:

- ``mart_service_recommendations`` — customer UUID, rank, service, vendor, category, score,
  reason and path (per-customer: published for the API, never exported);
- ``mart_recommended_services_by_city`` — per customer city the services most often in its
  customers' top 10 (counts only: the "top recommended services per city" report).

Before any model is trained every customer takes the cold-start path (``popular_nearby``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from petpro.settings import Settings
from predictions import recommend_model as rm
from predictions.recommend_data import RecommendData, read_data
from predictions.registry import ModelNotTrainedError, ModelVersion, latest_version

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

RECOMMENDATIONS_MART = "mart_service_recommendations"
BY_CITY_MART = "mart_recommended_services_by_city"
PATHS = ("model", "cold_start")

# Column documentation lives beside each field (README "Recommendation marts" repeats it).
RECOMMENDATIONS_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),  # the customer's UUID
        pa.field("rank", pa.int32(), nullable=False),  # 1 = best
        pa.field("service_id", pa.string(), nullable=False),  # the recommended service's UUID
        pa.field("vendor_id", pa.string()),  # the vendor offering it
        pa.field("service_category", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),  # model score, or share nearby
        pa.field("reason", pa.string(), nullable=False),  # booked_before, similar_customers, …
        pa.field("path", pa.string(), nullable=False),  # model | cold_start
        pa.field("model_version", pa.string()),  # NULL before any model is trained
        pa.field("model_candidate", pa.string()),  # item_bm25, item_cosine, als
    ]
)
# What recommendations_table returns: the same columns, the repeated strings dictionary-encoded.
ENCODED_RECOMMENDATIONS_SCHEMA = pa.schema(
    [
        f.with_type(pa.dictionary(pa.int32(), pa.string())) if pa.types.is_string(f.type) else f
        for f in RECOMMENDATIONS_SCHEMA
    ]
)
BY_CITY_SCHEMA = pa.schema(
    [
        pa.field("country", pa.string(), nullable=False),  # customers' country
        pa.field("city", pa.string(), nullable=False),  # customers' city
        pa.field("rank", pa.int32(), nullable=False),  # 1 = in most customers' top 10
        pa.field("service_id", pa.string(), nullable=False),
        pa.field("vendor_id", pa.string()),
        pa.field("service_category", pa.string(), nullable=False),
        pa.field("vendor_city", pa.string(), nullable=False),
        pa.field("customers", pa.int64(), nullable=False),  # active customers with it in top 10
        pa.field("city_customers", pa.int64(), nullable=False),  # active customers of the city
        pa.field("share", pa.float64(), nullable=False),  # customers / city_customers
        pa.field("mean_rank", pa.float64(), nullable=False),  # its mean rank where shown
    ]
)
CITY_TOP = 10


@dataclass
class Scored:
    """The ranking of every active customer and which model produced it."""

    data: RecommendData
    ranking: rm.Ranking
    version: ModelVersion | None
    candidate: str | None

    def path_counts(self) -> dict[str, int]:
        warm = self.ranking.warm if self.ranking.warm is not None else np.zeros(0, bool)
        return {"model": int(warm.sum()), "cold_start": int((~warm).sum())}


def load_latest(settings: Settings) -> tuple[ModelVersion, str, Any, np.ndarray] | None:
    """(version, candidate, model, service ids of its items), or None when none is trained."""
    from predictions.recommend_train import ITEMS_FILE, MODEL, MODEL_FILE

    try:
        version = latest_version(settings, MODEL)
    except ModelNotTrainedError:
        return None
    candidate = str(version.metadata["candidate"])
    model = rm.load_model(candidate, version.file(MODEL_FILE).read_bytes())
    items = np.array(json.loads(version.file(ITEMS_FILE).read_text()), dtype=object)
    return version, candidate, model, items


def score(data: RecommendData, latest: tuple[ModelVersion, str, Any, np.ndarray] | None) -> Scored:
    """Rank every active customer of ``data`` with ``latest`` (or the cold-start rule)."""
    ctx = rm.build_context(data, data.bookings, data.high_water_day)
    rows = np.flatnonzero(data.customers.active)
    if latest is None:
        ranking = rm.rank_with_model(None, np.empty(0, dtype=np.int64), ctx, rows)
        return Scored(data, ranking, None, None)
    version, candidate, model, items = latest
    index = {s: i for i, s in enumerate(data.catalogue.ids)}
    model_items = np.array([index.get(s, -1) for s in items], dtype=np.int64)
    ranking = rm.rank_with_model(model, model_items, ctx, rows)
    return Scored(data, ranking, version, candidate)


def recommendations_table(scored: Scored) -> pa.Table:
    """``mart_service_recommendations`` rows of a scoring.

    The string columns repeat a few values (ten rows per customer, a catalogue of services,
    six reasons): they are dictionary-encoded here (:data:`ENCODED_RECOMMENDATIONS_SCHEMA`)
    and become plain strings in the published table (DuckDB decodes them on insert). At
    320,000 customers the plain table held 266 MB of repeated UUID strings, the largest
    allocation of the publication."""
    r, cat = scored.ranking, scored.data.catalogue
    ok = r.service >= 0
    row_idx, col_idx = np.nonzero(ok)
    svc = r.service[ok]
    warm = r.warm if r.warm is not None else np.zeros(r.customers.size, dtype=bool)
    n = svc.size
    version = scored.version.version if scored.version else None
    vendor_ids, vendor_missing = _vendor_ids(cat.vendor_id)
    columns = {
        "customer_id": _encoded(r.customers[row_idx], _strings(scored.data.customers.ids)),
        "rank": (col_idx + 1).astype(np.int32),
        "service_id": _encoded(svc, _strings(cat.ids)),
        "vendor_id": _encoded(svc, vendor_ids.fill_null(""), missing=vendor_missing[svc]),
        "service_category": _encoded(svc, _strings(cat.category)),
        "score": np.round(r.score[ok].astype(float), 6),
        "reason": _encoded(r.reason[ok], pa.array(rm.REASONS, type=pa.string())),
        "path": _encoded(warm[row_idx], pa.array(["cold_start", "model"], type=pa.string())),
        "model_version": _constant(n, version),
        "model_candidate": _constant(n, scored.candidate),
    }
    return pa.table(columns, schema=ENCODED_RECOMMENDATIONS_SCHEMA)


def _encoded(
    indices: np.ndarray, values: pa.Array, missing: np.ndarray | None = None
) -> pa.DictionaryArray:
    """``values.take(indices)`` as a dictionary array: four bytes a row, no string copies."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32), mask=missing), values)


def _constant(n: int, value: str | None) -> pa.DictionaryArray:
    """``n`` rows of one string (or NULL) as a dictionary array."""
    if value is None:
        return _encoded(np.zeros(n, np.int32), pa.array([""]), missing=np.ones(n, dtype=bool))
    return _encoded(np.zeros(n, np.int32), pa.array([value], type=pa.string()))


def _vendor_ids(vendor_id: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The catalogue's vendor ids as strings, NULL for a service without one, and that mask."""
    ids = pa.array(list(vendor_id), type=pa.string())
    return ids, ids.is_null().to_numpy(zero_copy_only=False)


def _strings(values: np.ndarray) -> pa.Array:
    """``values.astype(str)`` as an Arrow string array (None becomes "None", as there)."""
    try:
        return pa.array(values, type=pa.string()).fill_null("None")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(np.asarray(values).astype(str), type=pa.string())


def by_city_table(
    scored: Scored, recommendations: pa.Table, con: duckdb.DuckDBPyConnection | None = None
) -> pa.Table:
    """``mart_recommended_services_by_city``: the services in most top 10s per customer city.

    ``recommendations``: :func:`recommendations_table`'s dictionary-encoded table, whose
    customer and service indices are row numbers of ``scored.data``. The counting runs in
    numpy on those integers: each recommendation becomes one ``place × services + service``
    key (place: the customer's country and city), counted and rank-summed with one
    ``np.unique``. Only the counted (place, service) pairs, a few per service and city, go
    to DuckDB for the ranking. At 320,000 customers, joining and grouping the 1.5M rows in
    DuckDB took 135-150 MiB of its pool on top of the scoring (docs/orchestration.md, "The
    scoring's memory"); before that, joining them as UUID strings had been the publication's
    peak ("Cached pages released between steps"). ``con``: the connection to rank in (in the
    publication, a cursor of the staged version, so the work shares its bounded pool instead
    of opening a DuckDB with 80 % of RAM of its own); a fresh in-memory one without it."""
    import duckdb

    cust = scored.data.customers
    active = np.flatnonzero(cust.active)
    country = _strings(cust.country).take(active)
    city = _strings(cust.city).take(active)
    # Each active customer's place (country, city) as a number: the pair of the two columns'
    # dictionary codes, numbered by np.unique; ``first`` is a customer of each place.
    country_codes = pc.dictionary_encode(country)
    city_codes = pc.dictionary_encode(city)
    pair = country_codes.indices.to_numpy().astype(np.int64) * len(city_codes.dictionary)
    pair += city_codes.indices.to_numpy()
    _, first, place_code = np.unique(pair, return_index=True, return_inverse=True)
    places = pa.table({"country": country.take(first), "city": city.take(first)})
    place_of = np.full(cust.size, -1, dtype=np.int64)
    place_of[active] = place_code
    city_customers = np.bincount(place_code, minlength=places.num_rows)

    cat = scored.data.catalogue
    customer = _indices(recommendations["customer_id"]).to_numpy().astype(np.int64)
    service = _indices(recommendations["service_id"]).to_numpy().astype(np.int64)
    rank = recommendations["rank"].to_numpy().astype(np.int64)
    place = place_of[customer]
    mine = place >= 0  # a recommendation of a customer who is not active has no city here
    keys, inverse = np.unique(place[mine] * cat.size + service[mine], return_inverse=True)
    shown = pa.table(
        {
            "place": pa.array((keys // cat.size).astype(np.int32)),
            "service": pa.array((keys % cat.size).astype(np.int32)),
            "customers": pa.array(np.bincount(inverse, minlength=keys.size).astype(np.int64)),
            "rank_sum": pa.array(
                np.bincount(inverse, weights=rank[mine], minlength=keys.size).astype(np.int64)
            ),
        }
    )
    sizes = places.append_column("place", pa.array(np.arange(places.num_rows, dtype=np.int32)))
    sizes = sizes.append_column("city_customers", pa.array(city_customers.astype(np.int64)))
    vendor_ids, _ = _vendor_ids(cat.vendor_id)
    services = pa.table(
        {
            "service": pa.array(np.arange(cat.size, dtype=np.int32)),
            "service_id": _strings(cat.ids),
            "vendor_id": vendor_ids,
            "service_category": _strings(cat.category),
            "vendor_city": _strings(cat.city),
        }
    )
    with con.cursor() if con is not None else duckdb.connect() as db:
        db.register("shown", shown)
        db.register("sizes", sizes)
        db.register("services", services)
        table = db.sql(
            f"""
            with ranked as (
                select h.place, h.customers, h.rank_sum / h.customers as mean_rank,
                    s.service_id, s.vendor_id, s.service_category, s.vendor_city,
                    row_number() over (
                        partition by h.place
                        order by h.customers desc, h.rank_sum / h.customers, s.service_id
                    ) as rank
                from shown h
                join services s using (service)
            )
            select z.country, z.city, cast(r.rank as integer) as rank, r.service_id,
                r.vendor_id, r.service_category, coalesce(r.vendor_city, 'unknown') as vendor_city,
                r.customers, z.city_customers,
                r.customers / z.city_customers as share, r.mean_rank
            from ranked r
            join sizes z using (place)
            where r.rank <= {CITY_TOP}
            order by z.country, z.city, r.rank
            """
        ).to_arrow_table()
    return table.cast(BY_CITY_SCHEMA)


def _indices(column: pa.ChunkedArray) -> pa.Array:
    """The int32 indices of a dictionary-encoded column of :func:`recommendations_table`."""
    return pa.concat_arrays([chunk.indices for chunk in column.chunks]).cast(pa.int32())


def recommendation_marts(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Derived-marts step: both recommendation marts from the staged version.

    Bind ``settings`` with ``functools.partial`` and pass it to ``publish(derive=[...])``.
    """
    data = read_data(con)
    scored = score(data, load_latest(settings))
    recs = recommendations_table(scored)
    counts = scored.path_counts()
    log.info(
        "recommendations for %d active customers (%d by the model %s, %d cold start)",
        int((scored.ranking.service >= 0).any(axis=1).sum()),  # one ranking row a customer
        counts["model"],
        scored.version.version if scored.version else "-",
        counts["cold_start"],
    )
    return {RECOMMENDATIONS_MART: recs, BY_CITY_MART: by_city_table(scored, recs, con)}
