"""``service_recommender``: the nightly training of the service recommender, and its publish steps.

The asset runs after ``published_warehouse`` in every refresh job: it trains a new version of
the recommender from the publication just switched in (:func:`predictions.recommend_train.
train_recommender`: time-split evaluation, choice of candidate, evaluation rows). The next
publish scores every active customer with the latest version inside the publication
(:func:`derived_mart_steps`, passed to ``warehouse.publish.publish(derive=...)`` by the
``published_warehouse`` asset), so ``mart_service_recommendations``,
``mart_recommended_services_by_city`` and ``mart_model_evaluation`` are refreshed nightly with
the marts they come from. Thin wiring: all the work is in ``predictions/``.
"""

import functools
from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.defs.publication import PUBLISHED_KEY
from orchestration.resources import PetProSettings
from petpro.settings import Settings

RECOMMENDER_KEY = AssetKey("service_recommender")


def derived_mart_steps(settings: Settings) -> Sequence:
    """The derived-marts steps of a publication: recommendations and model evaluation."""
    from predictions.evaluation import model_evaluation_mart
    from predictions.recommend_score import recommendation_marts

    return [
        functools.partial(recommendation_marts, settings),
        functools.partial(model_evaluation_mart, settings),
    ]


@asset(
    key=RECOMMENDER_KEY,
    deps=[PUBLISHED_KEY],
    group_name="predictions",
    kinds={"python"},
    description="A new version of the service recommender under "
    "$PETPRO_HOME/models/service_recommender/, trained on the current publication and chosen "
    "by a time-split evaluation (hit rate@5, recall@10, NDCG@10 vs. popularity baselines). "
    "The next publication scores every active customer with it "
    "(mart_service_recommendations).",
)
def service_recommender(
    context: AssetExecutionContext, petpro: PetProSettings
) -> MaterializeResult:
    from predictions.recommend_train import train_recommender

    result = train_recommender(petpro.settings())
    ev = result.evaluation
    table = "\n".join(
        ["| model | role | hit@5 | recall@10 | NDCG@10 | coverage |", "|---|---|---|---|---|---|"]
        + [
            f"| {n} | {r} | {h:.3f} | {c:.3f} | {g:.3f} | {v:.3f} |"
            for n, r, h, c, g, v in ev.table()
        ]
    )
    context.log.info(f"service_recommender {result.version.version}: {ev.chosen} chosen")
    return MaterializeResult(
        metadata={
            "version": MetadataValue.text(result.version.version),
            "candidate": MetadataValue.text(ev.chosen),
            "ndcg_at_10": MetadataValue.float(ev.test["service_recommender"]["ndcg_at_10"]),
            "test_customers": MetadataValue.int(ev.test_customers),
            "evaluation": MetadataValue.md(table),
            "path": MetadataValue.path(str(result.version.path)),
            "seconds": MetadataValue.float(round(result.seconds, 2)),
        }
    )
