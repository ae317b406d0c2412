"""Streaming extraction: PostgreSQL binary COPY → Arrow record batches → lake-typed batches.

Queries run through the ADBC PostgreSQL driver, whose ``fetch_record_batch`` wraps every
``SELECT`` in ``COPY (…) TO STDOUT (FORMAT binary)`` and decodes the stream into Arrow
record batches in C. A reader thread pulls batches into a small bounded queue while the
caller converts and encodes the previous ones (pyarrow and the driver release the GIL), so
fetching and Parquet encoding overlap on two cores and memory stays bounded by the queue.

Each extraction of a table happens inside one ``REPEATABLE READ`` transaction: the contract
check, the watermark, key sets, per-date counts and the rows themselves all come from the
same snapshot of the source.

``Converter`` turns source batches into the contract's Arrow types, derives the
pseudonymised activity columns, and separates rows that fail the row-level gate
(``row_checks``: NULL in a required column, unparseable value, implausible date or amount)
into a rejected batch with a ``_reason``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contracts import TableContract, check_contract, live_types
from ingestion.privacy import Pseudonymiser
from ingestion.row_checks import RowGate, unparseable_rule

_QUEUE_DEPTH = 2
_BATCH_HINT_BYTES = 4 * 1024 * 1024
_END = object()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def select_list(contract: TableContract) -> str:
    """The SELECT list of a contract: its columns plus transient ones.

    uuid travels as its 16 raw bytes (half the wire size of its text, no ``uuid_out`` in
    the backend, and ``ORDER BY id`` compares bytes, which is also the C-collation order of
    the text) and is formatted client-side by ``uuid_text``; enums arrive as strings,
    numeric as its exact text, jsonb as JSON text.
    """
    return ", ".join(quote_ident(column.name) for column in contract.source_columns)


def select_sql(
    contract: TableContract,
    where: str | None = None,
    order: str | None = None,
    extra: str | None = None,
) -> str:
    """The extraction query; ``extra``: more select-list items (e.g. a computed column)."""
    columns = select_list(contract) + (f", {extra}" if extra else "")
    sql = f"select {columns} from {quote_ident(contract.table)}"
    if where:
        sql += f" where {where}"
    if order:
        sql += f" order by {order}"
    return sql


class Source:
    """One ADBC connection to the source, shared by the tables of a run (opening one costs a
    server process and an authentication, ~0.15 s), each table in its own snapshot."""

    def __init__(self, url: str | Callable[[], str]) -> None:
        # A callable is asked for the URL only when a table first needs the source.
        self.url = url
        self._conn: Any = None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Any]:
        """The connection inside a new REPEATABLE READ, read-only transaction."""
        if self._conn is None:
            import adbc_driver_postgresql.dbapi as adbc

            self._conn = adbc.connect(self.url() if callable(self.url) else self.url)
        conn = self._conn
        try:
            cur = conn.cursor()
            cur.execute("set transaction isolation level repeatable read, read only")
            cur.close()
            yield conn
        except BaseException:
            self.close()  # a failed extraction may leave the connection mid-stream
            raise
        finally:
            if self._conn is not None:
                try:
                    conn.rollback()
                except Exception:
                    self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fetch_all(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


def fetch_table(conn: Any, sql: str) -> pa.Table:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


def verify_contract(conn: Any, contract: TableContract) -> list[str]:
    """Raise ContractDriftError on drift; return new (ignored) source columns."""
    rows = fetch_all(
        conn,
        "select column_name::text, data_type::text, udt_name::text from information_schema.columns "
        f"where table_schema = current_schema() and table_name = {quote_literal(contract.table)}",
    )
    return check_contract(contract, live_types(rows))


def stream(conn: Any, sql: str) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of a query, prefetched by a reader thread.

    The bounded queue keeps at most a few batches in flight; closing the generator early
    stops the reader thread and the query.
    """
    cur = conn.cursor()
    with contextlib.suppress(Exception):
        cur.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(_BATCH_HINT_BYTES)}
        )
    cur.execute(sql)
    reader = cur.fetch_record_batch()
    q: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_DEPTH)
    stop = threading.Event()

    def pump() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        q.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=pump, name="petpro-extract-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                q.get_nowait()
        thread.join(timeout=30)
        with contextlib.suppress(Exception):
            reader.close()
        with contextlib.suppress(Exception):
            cur.close()


class BackgroundStage:
    """Runs ``fn`` on submitted items in a worker thread, through a bounded queue.

    Used to encode and write Parquet (GIL released inside pyarrow) while the calling thread
    converts the next batch. Errors in the worker are re-raised by ``submit``/``close``.
    """

    def __init__(self, fn: Any, depth: int = _QUEUE_DEPTH, name: str = "petpro-writer") -> None:
        self._fn = fn
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # drain after a failure so submit() never blocks forever
            try:
                self._fn(item)
            except BaseException as exc:
                self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: Any) -> None:
        self._check()
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(_END)
        self._thread.join()
        self._check()


@dataclass
class Converted:
    accepted: pa.RecordBatch
    rejected: pa.RecordBatch | None
    # Which source rows were accepted (None: all of them), to split other columns alike.
    keep: pa.Array | None = None


def _storage(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array


# Each byte value → its two lowercase hex digits, as one little-endian uint16 (one lookup
# per byte instead of two).
_HEX_PAIRS = np.array(
    [int.from_bytes(f"{b:02x}".encode(), "little") for b in range(256)], dtype=np.uint16
)
# (byte range, text start) of the five groups of the canonical 8-4-4-4-12 form.
_UUID_GROUPS = ((0, 4, 0), (4, 6, 9), (6, 8, 14), (8, 10, 19), (10, 16, 24))


def uuid_text(array: pa.Array) -> pa.Array:
    """16-byte uuids (fixed_size_binary) → canonical lowercase 36-character strings, in numpy.

    Every value has the same length, so the offsets are an arithmetic sequence and the
    characters one (n, 36) byte matrix; NULLs keep their validity bit (their bytes are
    never read).
    """
    if array.offset:
        array = pa.concat_arrays([array])  # rebase a slice so its buffers start at row 0
    n = len(array)
    validity, data = array.buffers()[0], array.buffers()[1]
    raw = np.frombuffer(data, dtype=np.uint8, count=n * 16).reshape(n, 16)
    digits = _HEX_PAIRS[raw].view(np.uint8)  # (n, 32)
    chars = np.empty((n, 36), dtype=np.uint8)
    for dash in (8, 13, 18, 23):
        chars[:, dash] = ord("-")
    for first, last, start in _UUID_GROUPS:
        chars[:, start : start + 2 * (last - first)] = digits[:, 2 * first : 2 * last]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets),
        pa.py_buffer(chars),
        validity if array.null_count else None,
        array.null_count,
    )


def _parse_decimals(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """Row by row fallback when a vectorised cast fails: (decimals, bad-row mask)."""
    quantum = Decimal(1).scaleb(-target.scale)
    limit = Decimal(10) ** (target.precision - target.scale)
    out: list[Decimal | None] = []
    bad: list[bool] = []
    for text in values.to_pylist():
        if text is None:
            out.append(None)
            bad.append(False)
            continue
        try:
            number = Decimal(str(text)).quantize(quantum)
            if not number.is_finite() or abs(number) >= limit:
                raise InvalidOperation
            out.append(number)
            bad.append(False)
        except (InvalidOperation, ValueError):
            out.append(None)
            bad.append(True)
    return pa.array(out, target), pa.array(bad, pa.bool_())


class Converter:
    """Source batch → (lake batch, rejected batch) for one table's contract."""

    def __init__(
        self,
        contract: TableContract,
        pseudonymiser: Pseudonymiser | None,
        gate: RowGate | None = None,
    ) -> None:
        self.contract = contract
        self.schema = contract.lake_schema()
        self.pseudonymiser = pseudonymiser
        self.gate = gate or RowGate(contract)
        if contract.transient and pseudonymiser is None:
            raise ValueError(f"{contract.table} needs a pseudonymiser for its transient columns")

    def convert(self, batch: pa.RecordBatch) -> Converted:
        n = batch.num_rows
        reason: pa.Array = pa.nulls(n, pa.string())
        columns: dict[str, pa.Array] = {}
        unparseable: list[tuple[str, pa.Array, pa.Array]] = []
        for column in self.contract.columns:
            raw = _storage(batch.column(column.name))
            target = column.arrow_type
            if raw.type == target:
                columns[column.name] = raw
                continue
            if pa.types.is_fixed_size_binary(raw.type) and raw.type.byte_width == 16:
                columns[column.name] = uuid_text(raw)
                continue
            try:
                columns[column.name] = raw.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                if not pa.types.is_decimal(target):
                    raise
                values, bad = _parse_decimals(raw, target)
                columns[column.name] = values
                unparseable.append((column.name, bad, raw))
        if self.contract.transient:
            assert self.pseudonymiser is not None
            derived = self.pseudonymiser.derive(
                _storage(batch.column("ip_address")), _storage(batch.column("user_agent"))
            )
            columns.update(derived)
        for name, bad, raw in unparseable:
            reason = self.gate.note(unparseable_rule(name), bad, columns, reason, shown=raw)
        reason = self.gate.apply(columns, reason)
        lake = pa.RecordBatch.from_arrays(
            [columns[f.name] for f in self.schema], schema=self.schema
        )
        if reason.null_count == n:
            return Converted(lake, None)
        ok = pc.is_null(reason)
        accepted = lake.filter(ok)
        bad = pc.invert(ok)
        rejected = lake.filter(bad)
        rejected = rejected.append_column("_reason", reason.filter(bad))
        return Converted(accepted, rejected, ok)
