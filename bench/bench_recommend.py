"""Recommender cost and quality: training and scoring time at the demo size and at 320,000 customers.

For each size the training input is built by :func:`predictions.recommend_synthetic.
synthetic_data` (the seed's customers, catalogue and booking-choice rules, without the
activity log or a database; not timed), then it times

- *training*: :func:`predictions.recommend_train.train_on` — the time-split evaluation of every
  candidate and baseline (each candidate fitted twice: selection and test), the final fit on
  every booking and saving the version;
- *scoring*: ranking every active customer with the saved version and building both
  recommendation marts (what the publish step does after reading the marts).

and prints the evaluation table. ``--publication`` measures the same two steps on the current
publication of ``PETPRO_HOME`` instead (e.g. after ``petpro demo``), including reading the
marts. Targets on the 2-core machine: demo size < 60 s, 320,000 customers < 600 s (training +
scoring). Sizes: ``--sizes 20000,320000`` (default) or ``PETPRO_BENCH_RECOMMEND_SIZES``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from petpro.settings import get_settings
from predictions.recommend_data import RecommendData
from predictions.recommend_score import (
    by_city_table,
    load_latest,
    recommendations_table,
    score,
)
from predictions.recommend_train import train_on

TARGETS = {20_000: 60.0, 320_000: 600.0}


def _day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def _measure(label: str, data: RecommendData, home: Path, target: float | None) -> None:
    settings = get_settings(home=home)
    print(
        f"{label}: {data.customers.size:,} customers ({int(data.customers.active.sum()):,} "
        f"active), {data.catalogue.size:,} services, {data.bookings.size:,} bookings"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    result = train_on(settings, data)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    scored = score(data, load_latest(settings))
    recs = recommendations_table(scored)
    city = by_city_table(scored, recs)
    score_s, score_cpu = time.perf_counter() - t0, time.process_time() - c0
    ev = result.evaluation
    validation = ", ".join(f"{k} {v['ndcg_at_10']:.4f}" for k, v in ev.validation.items())
    print(
        f"  evaluation: train to {_day(ev.cut_day)}, test the next 30 days: "
        f"{ev.test_customers:,} customers ({ev.test_cold_start:,} without earlier bookings); "
        f"chosen by validation NDCG@10: {ev.chosen} ({validation})"
    )
    print(f"  repeat categories (>= 25% repeats within 60 days): {', '.join(ev.repeat_categories)}")
    print(
        f"  {'model':<28} {'role':<8} {'hit@5':>7} {'recall@10':>10} {'NDCG@10':>8} {'coverage':>9}"
    )
    for name, role, hit, rec, ndcg, cov in ev.table():
        print(f"  {name:<28} {role:<8} {hit:>7.4f} {rec:>10.4f} {ndcg:>8.4f} {cov:>9.4f}")
    paths = scored.path_counts()
    print(
        f"  scored {paths['model'] + paths['cold_start']:,} active customers: "
        f"{paths['model']:,} by the model, {paths['cold_start']:,} cold start; "
        f"{recs.num_rows:,} recommendation rows, {city.num_rows:,} city rows"
    )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in ev.seconds.items())
    total = train_s + score_s
    verdict = (
        f" (target < {target:.0f} s: {'ok' if total < target else 'MISSED'})" if target else ""
    )
    print(f"  training {train_s:.1f} s ({steps}), scoring {score_s:.1f} s")
    # CPU seconds of this process (all its threads): what the work costs when the machine is
    # shared and wall time mostly measures waiting for a core.
    print(f"  CPU time: training {train_cpu:.1f} s, scoring {score_cpu:.1f} s")
    print(f"  training + scoring: {total:.1f} s wall{verdict}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_recommend", description=__doc__)
    parser.add_argument(
        "--sizes", default=os.environ.get("PETPRO_BENCH_RECOMMEND_SIZES", "20000,320000")
    )
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--publication", action="store_true", help="use PETPRO_HOME's publication")
    args = parser.parse_args(argv)
    if args.publication:
        from petpro.publication import open_current
        from predictions.recommend_data import read_data

        settings = get_settings()
        t0 = time.perf_counter()
        with open_current(settings.published_dir) as pub:
            data = read_data(pub.con)
        print(f"read the marts of {settings.published_dir} in {time.perf_counter() - t0:.1f} s")
        with tempfile.TemporaryDirectory(prefix="petpro_bench_recommend_") as tmp:
            _measure("publication", data, Path(tmp), 60.0)
        return
    from predictions.recommend_synthetic import synthetic_data

    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        t0 = time.perf_counter()
        data = synthetic_data(size, days=args.days, seed=args.seed)
        print(f"\nsynthetic input for {size:,} customers built in {time.perf_counter() - t0:.1f} s")
        with tempfile.TemporaryDirectory(prefix="petpro_bench_recommend_") as tmp:
            _measure(f"{size:,} customers", data, Path(tmp), TARGETS.get(size))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
