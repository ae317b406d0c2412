"""Functions the child-worker tests run in a worker (importable there through PYTHONPATH)."""

from __future__ import annotations

import logging
import os
import time

from petpro.errors import PetProError


def echo(value: object) -> tuple[int, object]:
    logging.getLogger("petpro.test_child").warning("echo %s from the child", value)
    return os.getpid(), value


def fail_with_message(message: str) -> None:
    raise PetProError(message)


def fail_transient() -> None:
    raise ConnectionResetError(104, "Connection reset by peer")


def fail_otherwise() -> None:
    raise ValueError("not a number")


def exit_unless_in(pid: int) -> str:
    """The child dies (as if killed); the same call in process ``pid`` answers."""
    if os.getpid() != pid:
        os._exit(3)
    return "answered in process"


def sleep(seconds: float, started: str | None = None) -> None:
    """Sleep; first create the file ``started``, so a test knows the call is under way."""
    if started:
        open(started, "w").close()
    time.sleep(seconds)


_warmed: list[str] = []


def warm(label: str = "warmed") -> None:
    """A warm-up with a trace: what ``warmed`` reports from the same process."""
    _warmed.append(label)


def warmed() -> tuple[int, list[str]]:
    return os.getpid(), list(_warmed)
