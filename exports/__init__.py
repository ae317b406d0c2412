"""Report files built from the published marts, for people and spreadsheets.

``exports.reports.REPORTS`` declares the reports (one per published aggregate mart, an
executive summary, and the stakeholder PDF); ``exports.run.export_reports`` reads them from
``published/`` (never the build database), writes CSV, Parquet and XLSX files and the monthly
and weekly stakeholder PDFs (``exports.stakeholder_pdf``) with a ``manifest.json`` into a dated
folder built under a temporary name and renamed into place, moves ``exports/latest`` and prunes
old folders; ``exports.delivery`` e-mails a PDF through ``petpro.mail``. The package is a plain
library: Dagster and the ``petpro export`` command call it.
"""
