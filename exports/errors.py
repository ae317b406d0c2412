"""The errors an export reports to a person: one line saying what is wrong and what to do.

They subclass ``PetProError`` so that the ``petpro`` CLI prints them without a stack trace and
Dagster shows the same sentence in the run log.
"""

from __future__ import annotations

from petpro.errors import PetProError
from petpro.publication import NothingPublishedError

__all__ = [
    "BadDateError",
    "ExportError",
    "NothingPublishedError",
    "UnknownFormatError",
    "UnknownReportError",
]


class ExportError(PetProError):
    """An export could not be produced as asked."""


class UnknownReportError(ExportError):
    """A report name that is not declared in ``exports.reports.REPORTS``."""


class UnknownFormatError(ExportError):
    """A file format the exporter does not write."""


class BadDateError(ExportError):
    """A date or date range that cannot be used."""
