"""Statistics over the published KPI series: anomalies, trends and the alerts they raise.

A plain library on the floor above ``warehouse`` (no Dagster): :mod:`insights.marts` is the
derived-marts step that :func:`warehouse.publish.publish` runs on the staged publication
(``mart_metric_anomalies``, ``mart_metric_trends`` from ``mart_metric_daily``);
:mod:`insights.anomalies` and :mod:`insights.trends` hold the methods; :mod:`insights.alerts`
turns new anomalies of a publication into notifications (file, webhook, e-mail), once each.
"""
