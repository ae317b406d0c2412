"""Customer predictions over the published marts: churn risk, lifetime value, segments, recommendations.

A library (no Dagster). Training reads published marts (or the lake), never ``build.duckdb``;
trained models are versioned folders under ``$PETPRO_HOME/models/`` (:mod:`predictions.registry`),
each with its evaluation rows (:mod:`predictions.evaluation`). Scoring runs as a derived-marts
step of the publication (``warehouse.publish.publish(derive=[...])``), so the scores belong to
the same publication as the marts they were computed from.
"""
