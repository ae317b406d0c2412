"""Keeping pandas out of extraction: pyarrow's pandas probes, answered without importing it.

Whenever pyarrow converts Python values (``pa.array``, ``pa.scalar``, a compute call with a
Python scalar, which every extraction does), it checks whether pandas is installed, by
importing it: 1.4 s of CPU and 60 MB of memory that an extraction never uses. Ingestion
needs pandas only for the sampled Great Expectations suite, which a run that changed
nothing skips. Inside ``pandas_hidden()``, ``import pandas`` fails for the extraction's own
threads (the one that entered and the ``petpro-*`` workers), so pyarrow's probes find no
pandas; every other thread imports it as usual. Afterwards, pyarrow still believes pandas
absent until something needs it: the next import of pandas, by anyone, tells pyarrow at once
(through its public ``to_pandas``, which looks again when it had found none), so pandas
objects handed to pyarrow later are recognised as such.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

WORKER_PREFIX = "petpro-"
_lock = threading.Lock()


class _HidePandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail in the extraction's threads."""

    def __init__(self, owner: int) -> None:
        self.owner = owner

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name == "pandas" and (
            threading.get_ident() == self.owner
            or threading.current_thread().name.startswith(WORKER_PREFIX)
        ):
            raise ModuleNotFoundError("pandas is not loaded during extraction", name=name)
        return None


class _TellPyarrow(importlib.abc.MetaPathFinder):
    """On the next import of pandas, once pandas is complete, lets pyarrow see it."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "pandas":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # one shot; the regular finders locate pandas
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            import pyarrow as pa

            # pyarrow recorded "no pandas"; its to_pandas looks again and records it.
            pa.array([], pa.int8()).to_pandas()

        loader.exec_module = exec_module
        return spec


@contextlib.contextmanager
def pandas_hidden() -> Iterator[None]:
    """Run an extraction without letting pyarrow import pandas (a no-op when pandas is
    already imported: its cost is paid)."""
    if "pandas" in sys.modules:
        yield
        return
    hide = _HidePandas(threading.get_ident())
    with _lock:
        sys.meta_path.insert(0, hide)
    try:
        yield
    finally:
        with _lock:
            sys.meta_path.remove(hide)
            if "pandas" not in sys.modules and not any(
                isinstance(f, _TellPyarrow) for f in sys.meta_path
            ):
                sys.meta_path.insert(0, _TellPyarrow())
