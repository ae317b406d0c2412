"""The base class of every error meant to be read by a person.

Libraries raise subclasses of ``PetProError`` with a one-line message that says what is
wrong and what to do. The CLI prints that line (no stack trace) and logs the trace to
``$PETPRO_HOME/logs/petpro.log``; anything else is an unexpected bug and is reported as
such, also with the trace in the log. :func:`is_transient` tells the errors worth retrying
(the source unreachable for a moment) from the rest.
"""

import errno


class PetProError(Exception):
    """An error whose message is fit for a person: what is wrong, and what to do."""


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a network/connection hiccup worth retrying."""
    import psycopg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.OperationalError | ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno in {
            errno.ECONNREFUSED,
            errno.ECONNRESET,
            errno.ETIMEDOUT,
            errno.EHOSTUNREACH,
        }:
            return True
        current = current.__cause__ or current.__context__
    return False
