"""The base class of every error meant to be read by a person.

Libraries raise subclasses of ``PetProError`` with a one-line message that says what is
wrong and what to do. The CLI prints that line (no stack trace) and logs the trace to
``$PETPRO_HOME/logs/petpro.log``; anything else is an unexpected bug and is reported as
such, also with the trace in the log.
"""


class PetProError(Exception):
    """An error whose message is fit for a person: what is wrong, and what to do."""
