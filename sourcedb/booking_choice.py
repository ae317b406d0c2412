"""Which service (and so which vendor and category) a customer books: the marketplace's rules.

A real marketplace has structure a recommender can learn; the generator draws each booking
from these rules (documented in the README, "Synthetic source: booking choice"):

1. **Category** — with a probability that depends on the previous booking's category, the
   next booking *follows* it (boarding or grooming after a vet visit, a series of training
   classes, regular grooming or walks: :data:`FOLLOW_UPS`). Otherwise it is drawn from the
   customer's own taste: the catalogue share (:data:`CATEGORY_WEIGHTS`) × the booked pet's
   species (:data:`SPECIES_TASTE`: dogs walk and train, cats board, exotic pets see the vet) ×
   the city's taste (:data:`CITY_TASTE`) × a personal factor. A dog under a year old makes
   training five times likelier (training after a new puppy).
2. **Vendor** — a customer goes back to the service they last booked in that category when
   they liked it (affinity ≥ :data:`HAPPY`, i.e. they would rate it 4 or 5) with probability
   :data:`RETURN_HAPPY`, otherwise rarely (:data:`RETURN_UNHAPPY`), and a customer who did not
   like it draws a second time when the first new pick is that service again. A new pick is a service
   in the customer's city with probability :data:`P_LOCAL` (else anywhere in the country),
   weighted by the service's size and quality and by whether it specialises in the pet's
   species (dogs, cats, exotic pets, or all). A new service the customer likes better than
   their current one becomes the one they return to.
3. **Rating** — a review's rating follows the customer's affinity with the service (its
   quality plus a personal match), so customers return to the services they rated well.

Every hidden trait (a service's quality, size and specialty; a customer's personal taste and
their match with a service) is a hash of the UUIDs, not a draw: the seed generator and the
day simulator agree on them without sharing state, and the numpy generator stream is only
used for the choices themselves. Everything is vectorised; the seed processes bookings in
rounds (every customer's k-th booking at once), so the cost grows with the total bookings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sourcedb.clock import DAY_US
from sourcedb.generate_people import CITY_COUNTRY, Pets, Services, Users, Vendors
from sourcedb.reference import CATEGORY_WEIGHTS, CITIES, SERVICE_CATALOGUE

CATEGORIES = tuple(SERVICE_CATALOGUE)
K = len(CATEGORIES)
_CAT = {c: i for i, c in enumerate(CATEGORIES)}

# Species groups that shape both categories and vendors.
SPECIES_GROUPS = ("dog", "cat", "exotic")
S = len(SPECIES_GROUPS)


def species_group(species: np.ndarray) -> np.ndarray:
    """0 dog, 1 cat, 2 everything else (birds, fish, reptiles, small mammals, other, none)."""
    s = np.asarray(species, dtype=object)
    return np.where(s == "dog", 0, np.where(s == "cat", 1, 2)).astype(np.int64)


# Category taste multipliers by species group (on top of CATEGORY_WEIGHTS).
SPECIES_TASTE: dict[str, dict[str, float]] = {
    "dog": {"walking": 1.8, "training": 1.7, "daycare": 1.4, "grooming": 1.1, "boarding": 0.9,
            "veterinary": 0.8, "other": 0.7},
    "cat": {"walking": 0.05, "training": 0.1, "daycare": 0.4, "grooming": 1.3, "boarding": 2.0,
            "veterinary": 1.8, "other": 1.5},
    "exotic": {"walking": 0.02, "training": 0.05, "daycare": 0.2, "grooming": 0.6,
               "boarding": 2.2, "veterinary": 3.0, "other": 2.5},
}  # fmt: skip

# After a booking of the key category, the next booking follows with these categories and
# probabilities (the rest of the time it comes from the customer's taste).
FOLLOW_UPS: dict[str, tuple[tuple[str, float], ...]] = {
    "veterinary": (("boarding", 0.30), ("grooming", 0.10)),
    "training": (("training", 0.45), ("walking", 0.10)),
    "boarding": (("grooming", 0.25),),
    "grooming": (("grooming", 0.25),),
    "walking": (("walking", 0.30), ("daycare", 0.10)),
    "daycare": (("daycare", 0.30),),
    "other": (),
}
PUPPY_DAYS = 365  # a dog younger than this is a puppy
PUPPY_TRAINING = 5.0  # training taste multiplier for a puppy

HAPPY = 0.62  # affinity at which a customer rates 4+ and wants to come back
RETURN_HAPPY = 0.8
RETURN_UNHAPPY = 0.12
P_LOCAL = 0.85
SPECIALTY_MATCH = 3.0  # weight of a service specialised in the pet's species
SPECIALTY_ALL = 1.4  # a service for every species
SPECIALTY_MISMATCH = 0.3
RETIRED_WEIGHT = 0.3  # services inactive today were booked less while they existed
# Affinity thresholds of ratings 2, 3, 4, 5 (below the first: 1).
RATING_CUTS = np.array([0.30, 0.42, HAPPY, 0.84])

_FOLLOW = np.zeros((K + 1, K))  # row K: no previous booking
for _src, _rows in FOLLOW_UPS.items():
    for _dst, _p in _rows:
        _FOLLOW[_CAT[_src], _CAT[_dst]] = _p
P_FOLLOW = _FOLLOW.sum(axis=1)
_FOLLOW_CUM = np.cumsum(_FOLLOW / np.maximum(P_FOLLOW[:, None], 1e-12), axis=1)

_BASE = np.array([CATEGORY_WEIGHTS[c] for c in CATEGORIES])
_SPECIES_TASTE = np.array([[SPECIES_TASTE[g][c] for c in CATEGORIES] for g in SPECIES_GROUPS])
# A fixed tilt per city (e.g. more daycare in one, more walking in another): a constant, not
# drawn from the caller's generator, so every seed shares the same geography.
CITY_TASTE = np.random.default_rng(20_240_611).gamma(6.0, 1 / 6.0, size=(len(CITIES), K))

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (vectorised, wrapping uint64 arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= _M2
    x ^= x >> np.uint64(27)
    x *= _M3
    x ^= x >> np.uint64(31)
    return x


def uuid_keys(ids: np.ndarray) -> np.ndarray:
    """A 64-bit key per UUID string (its first 8 and last 8 hex digits)."""
    if len(ids) == 0:
        return np.empty(0, dtype=np.uint64)
    raw = np.asarray(ids).astype("S36").view(np.uint8).reshape(-1, 36)
    hexes = np.concatenate([raw[:, :8], raw[:, 28:36]], axis=1).astype(np.uint64)
    digits = np.where(hexes >= 97, hexes - 87, np.where(hexes >= 65, hexes - 55, hexes - 48))
    out = np.zeros(len(ids), dtype=np.uint64)
    for j in range(16):
        out = (out << np.uint64(4)) | digits[:, j]
    return out


def unit(key: np.ndarray, salt: int) -> np.ndarray:
    """A uniform number in [0, 1) per key, different for each salt."""
    with np.errstate(over="ignore"):
        h = _mix(key.astype(np.uint64) + np.uint64(salt) * _M1)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _normal(key: np.ndarray, salt: int) -> np.ndarray:
    u1 = np.maximum(unit(key, salt), 1e-12)
    u2 = unit(key, salt + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)


def affinity(customer_key: np.ndarray, service_key: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """How much a customer likes a service: its quality plus a personal match, about [0, 1]."""
    with np.errstate(over="ignore"):
        pair = _mix(customer_key.astype(np.uint64) * _M3 ^ service_key.astype(np.uint64))
    return quality + 0.22 * _normal(pair, 7)


def service_quality(service_key: np.ndarray) -> np.ndarray:
    """A service's hidden quality in [0.3, 1] (most are good, a few are poor)."""
    return 0.3 + 0.7 * np.sqrt(unit(service_key, 1))


def rating_of(rng: np.random.Generator, customer_id: str, service_id: str) -> int:
    """The rating one customer gives one service (the day simulator's reviews)."""
    ck, sk = uuid_keys(np.array([customer_id])), uuid_keys(np.array([service_id]))
    return int(ratings(rng, affinity(ck, sk, service_quality(sk)))[0])


def ratings(rng: np.random.Generator, aff: np.ndarray) -> np.ndarray:
    """Review ratings 1-5 from affinities (with a little noise)."""
    noisy = aff + rng.normal(0.0, 0.06, size=aff.size)
    return (1 + np.searchsorted(RATING_CUTS, noisy, side="right")).astype(np.int64)


def customer_taste(customer_key: np.ndarray, city: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Unnormalised category weights per customer (rows) from species, city and person."""
    personal = np.exp(0.8 * np.stack([_normal(customer_key, 100 + 2 * k) for k in range(K)], 1))
    return _BASE * _SPECIES_TASTE[group] * CITY_TASTE[np.clip(city, 0, len(CITIES) - 1)] * personal


@dataclass
class Market:
    """The catalogue as customers see it: where each service is, its hidden traits, weights."""

    n: int
    category: np.ndarray
    key: np.ndarray
    quality: np.ndarray
    # per level (city, country, everywhere): sorted draw positions, service per entry, and
    # the first entry of each group (one past the end for the last)
    levels: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    places: tuple[int, int, int]


def build_market(
    service_ids: np.ndarray,
    category: np.ndarray,
    city: np.ndarray,
    country: np.ndarray,
    *,
    bookable: np.ndarray,
    active: np.ndarray,
    n_countries: int,
) -> Market:
    """Index the catalogue for weighted draws by (place, category, species group)."""
    n = len(service_ids)
    key = uuid_keys(service_ids)
    quality = service_quality(key)
    size = np.exp(0.9 * _normal(key, 3))
    spec_u = unit(key, 5)
    specialty = np.where(spec_u < 0.4, 0, np.where(spec_u < 0.62, 1, np.where(spec_u < 0.72, 2, 3)))
    weight = size * quality**2 * np.where(active, 1.0, RETIRED_WEIGHT)
    weight = np.where(bookable, weight, weight * 1e-6)  # only when nothing else is offered
    fit = np.empty((n, S))
    for g in range(S):
        fit[:, g] = np.where(
            specialty == g, SPECIALTY_MATCH, np.where(specialty == 3, SPECIALTY_ALL,
                                                      SPECIALTY_MISMATCH)
        )  # fmt: skip
    places = (len(CITIES), n_countries, 1)
    levels = []
    for place, n_place in zip((city, country, np.zeros(n, dtype=np.int64)), places, strict=True):
        place = np.asarray(place, dtype=np.int64)
        ok = place >= 0
        svc = np.repeat(np.flatnonzero(ok), S)
        grp = np.tile(np.arange(S), int(ok.sum()))
        gkey = (place[svc] * K + category[svc]) * S + grp
        w = weight[svc] * fit[svc, grp]
        order = np.lexsort((svc, gkey))
        gkey, svc, w = gkey[order], svc[order], w[order]
        n_groups = n_place * K * S
        total = np.bincount(gkey, weights=w, minlength=n_groups)
        cum = np.cumsum(w)
        start = np.searchsorted(gkey, gkey, side="left")
        before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
        pos = gkey + (cum - before) / np.maximum(total[gkey], 1e-300)
        levels.append((pos, svc, np.searchsorted(gkey, np.arange(n_groups + 1))))
    return Market(n, np.asarray(category, dtype=np.int64), key, quality, tuple(levels), places)


def draw_new(
    rng: np.random.Generator,
    market: Market,
    cat: np.ndarray,
    city: np.ndarray,
    country: np.ndarray,
    group: np.ndarray,
) -> np.ndarray:
    """A fresh service per row: local with probability P_LOCAL, else in the country."""
    m = cat.size
    local = rng.random(m) < P_LOCAL
    u = rng.random(m)
    out = np.full(m, -1, dtype=np.int64)
    todo = np.ones(m, dtype=bool)
    for level, place in enumerate((city, country, np.zeros(m, dtype=np.int64))):
        pos, svc, start = market.levels[level]
        sel = todo & (place >= 0) & (place < market.places[level]) & ((level > 0) | local)
        if not sel.any():
            continue
        g = (place[sel] * K + cat[sel]) * S + group[sel]
        lo, hi = start[g], start[g + 1]
        found = hi > lo
        hit = np.clip(np.searchsorted(pos, g + u[sel], side="right"), lo, hi - 1)
        idx = np.flatnonzero(sel)[found]
        out[idx] = svc[hit[found]]
        todo[idx] = False
    if todo.any():  # a category nobody offers any more: any service at all
        out[todo] = rng.integers(0, market.n, size=int(todo.sum()))
    return out


@dataclass
class History:
    """What the rules remember per customer: last category, the service to return to."""

    prev_cat: np.ndarray  # (n,) category of the last booking, K when none
    home: np.ndarray  # (n, K) service index to return to, -1 when none
    home_affinity: np.ndarray  # (n, K)

    @classmethod
    def empty(cls, n: int) -> History:
        return cls(np.full(n, K, dtype=np.int64), np.full((n, K), -1, dtype=np.int64),
                   np.full((n, K), -np.inf))  # fmt: skip


def choose_round(
    rng: np.random.Generator,
    market: Market,
    history: History,
    who: np.ndarray,
    taste: np.ndarray,
    puppy: np.ndarray,
    city: np.ndarray,
    country: np.ndarray,
    group: np.ndarray,
    customer_key: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One booking for each customer in ``who`` (no repeats); updates ``history``.

    ``taste`` (rows of ``who``), ``puppy``, ``city``, ``country``, ``group`` and
    ``customer_key`` are per row. Returns (service index, affinity) per row.
    """
    m = who.size
    prev = history.prev_cat[who]
    follow = rng.random(m) < P_FOLLOW[prev]
    w = taste.copy()
    w[puppy, _CAT["training"]] *= PUPPY_TRAINING
    cum = np.where(follow[:, None], _FOLLOW_CUM[prev], np.cumsum(w, axis=1) / w.sum(1)[:, None])
    cat = np.minimum((cum < rng.random(m)[:, None]).sum(axis=1), K - 1)
    home = history.home[who, cat]
    home_aff = history.home_affinity[who, cat]
    back = (home >= 0) & (rng.random(m) < np.where(home_aff >= HAPPY, RETURN_HAPPY,
                                                   RETURN_UNHAPPY))  # fmt: skip
    fresh = draw_new(rng, market, cat, city, country, group)
    # Someone who did not like their service tries another one when the market offers one.
    again = ~back & (home >= 0) & (fresh == home) & (home_aff < HAPPY)
    if again.any():
        fresh[again] = draw_new(rng, market, cat[again], city[again], country[again], group[again])
    svc = np.where(back, home, fresh)
    aff = affinity(customer_key, market.key[svc], market.quality[svc])
    better = ~back & (aff > home_aff)
    history.home[who[better], cat[better]] = svc[better]
    history.home_affinity[who[better], cat[better]] = aff[better]
    history.prev_cat[who] = market.category[svc]
    return svc, aff


def choose_history(
    rng: np.random.Generator,
    market: Market,
    user: np.ndarray,
    *,
    customer_key: np.ndarray,
    city: np.ndarray,
    country: np.ndarray,
    group: np.ndarray,
    puppy: np.ndarray,
    history: History,
) -> tuple[np.ndarray, np.ndarray]:
    """Services for bookings ``user`` (indexes, in time order) under the rules, in rounds.

    ``customer_key``, ``city``, ``country`` and ``group`` are per customer (indexed by
    ``user``); ``puppy`` is per booking. Returns (service index, affinity) per booking.
    """
    n_b = user.size
    svc = np.empty(n_b, dtype=np.int64)
    aff = np.empty(n_b)
    if n_b == 0:
        return svc, aff
    # Rank of each booking among its customer's bookings (time order is the input order).
    order = np.argsort(user, kind="stable")
    sorted_user = user[order]
    first = np.searchsorted(sorted_user, sorted_user, side="left")
    rank = np.empty(n_b, dtype=np.int64)
    rank[order] = np.arange(n_b) - first
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(rank.max() + 2))
    taste = customer_taste(customer_key, city, group)
    for k in range(rank.max() + 1):
        rows = by_rank[bounds[k] : bounds[k + 1]]
        who = user[rows]
        s, a = choose_round(
            rng, market, history, who, taste[who], puppy[rows], city[who], country[who],
            group[who], customer_key[who],
        )  # fmt: skip
        svc[rows], aff[rows] = s, a
    return svc, aff


def choose_seeded_services(
    rng: np.random.Generator,
    users: Users,
    vendors: Vendors,
    services: Services,
    pets: Pets,
    b_user: np.ndarray,
    b_created: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(service index, affinity) of the seed's bookings (customer indexes, in time order)."""
    n = users.n_customers
    city_index = {c[0]: i for i, c in enumerate(CITIES)}
    vendor_city = np.array([city_index.get(c, -1) for c in vendors.columns["city"]])  # type: ignore[attr-defined]
    vendor_status = np.asarray(vendors.columns["status"])
    market = build_market(
        services.ids,
        services.category,
        vendor_city[services.vendor],
        services.country,
        bookable=np.isin(vendor_status[services.vendor], ["active", "inactive"]),
        active=np.asarray(services.columns["is_active"], dtype=bool),
        n_countries=int(CITY_COUNTRY.max()) + 1,
    )
    city = users.city[:n]
    first = pets.first_of_owner
    birth, birth_null = pets.columns["birth_date"]  # type: ignore[misc]
    birth_day = np.asarray(birth[first]).astype("datetime64[D]").astype(np.int64)
    dog = pets.species[first] == "dog"
    age_days = b_created // DAY_US - birth_day[b_user]
    puppy = dog[b_user] & ~np.asarray(birth_null)[first][b_user] & (age_days < PUPPY_DAYS)
    return choose_history(
        rng, market, b_user, customer_key=uuid_keys(users.ids[:n]), city=city,
        country=CITY_COUNTRY[city], group=species_group(pets.species[first]), puppy=puppy,
        history=History.empty(n),
    )  # fmt: skip
