"""Report files built from the published marts, for people and spreadsheets.

``exports.reports.REPORTS`` declares the reports (one per published aggregate mart plus an
executive summary); ``exports.run.export_reports`` reads them from ``published/`` (never the
build database), writes CSV, Parquet and XLSX files with a ``manifest.json`` into a dated
folder built under a temporary name and renamed into place, moves ``exports/latest`` and prunes
old folders. The package is a plain library: Dagster and the ``petpro export`` command call it.
"""
