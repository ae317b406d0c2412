"""The definitions of the code location, one module per domain.

Each module builds the assets, checks, jobs, schedules and sensors of its domain and returns
them as one ``Definitions`` from a ``definitions(...)`` function (the way Dagster's own
platform groups them); :func:`orchestration.location.build_definitions` merges them.
"""
