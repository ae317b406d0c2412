"""The derived-marts steps of the predictions, in the order the publisher runs them.

``publish(settings, derive=derived_steps(settings))`` scores churn risk, lifetime value and
service recommendations with the latest trained versions on the staged publication and
gathers every kept version's evaluation rows, so the scores, the RFM marts (dbt) and the
evaluation belong to the same publication. Before any training the churn and CLV marts are
published empty (with their schema) and recommendations come from the cold-start rule.
"""

from __future__ import annotations

from functools import partial, update_wrapper

from petpro.settings import Settings
from predictions.churn import churn_risk_mart
from predictions.clv import clv_mart
from predictions.evaluation import model_evaluation_mart
from predictions.recommend_score import recommendation_marts


def derived_steps(settings: Settings) -> list:
    """Derivers for ``warehouse.publish.publish(derive=...)``, bound to ``settings``."""
    steps = []
    for step in (churn_risk_mart, clv_mart, recommendation_marts, model_evaluation_mart):
        bound = partial(step, settings)
        update_wrapper(bound, step)  # the publisher names a failing step by __name__
        steps.append(bound)
    return steps
