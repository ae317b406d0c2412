"""Peak resident memory of this process and every process it starts, while a block runs.

A refresh is several processes at once: the Python process that runs the Dagster job (here,
the benchmark itself), the dbt process dagster-dbt starts and DuckDB inside it. The figure
the issue asks for, the peak RSS of the whole refresh, is the largest *sum* of their resident
sets seen at one moment, so a thread samples the process tree every ``interval`` seconds.
``getrusage`` cannot give it: it reports the largest single process, never a sum. A sample
can miss a spike shorter than the interval, so the figure is a lower bound on the true peak,
close to it for a DuckDB buffer pool that grows and stays for seconds.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


class TreePeak:
    """``with TreePeak() as peak: ...`` then ``peak.bytes`` (sum) and ``peak.start_bytes``.

    ``pid`` roots the tree at another process (a real ``petpro refresh`` started with
    ``subprocess.Popen``), so the benchmark's own memory is left out."""

    def __init__(self, interval: float = 0.1, pid: int | None = None) -> None:
        self.interval = interval
        self.bytes = 0
        self.largest = 0  # the largest single process at any sample
        self.start_bytes = 0  # the whole tree when the block started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._root = psutil.Process(pid)

    def _once(self) -> None:
        sizes = []
        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:  # the root has ended
            return
        for process in tree:
            try:
                sizes.append(process.memory_info().rss)
            except psutil.Error:  # ended between the listing and the read
                continue
        if sizes:
            self.bytes = max(self.bytes, sum(sizes))
            self.largest = max(self.largest, max(sizes))

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._once()

    def __enter__(self) -> TreePeak:
        self._once()
        self.start_bytes = self.bytes
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._once()
