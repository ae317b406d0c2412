"""The one settings object of the project.

Every path, URL and tunable the system uses is defined here once and read from the
environment with the ``PETPRO_`` prefix (pydantic-settings). Libraries receive a
``Settings`` instance (or call :func:`get_settings`) instead of reading environment
variables themselves, so that the CLI, Dagster, dbt's ``profiles.yml`` and the tests all
agree on where data lives.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from petpro.errors import PetProError
from petpro.publication import CURRENT, DATABASE_FILE, MARTS_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent
# The floor of plausible source dates when PETPRO_EARLIEST_DATE is unset (the platform launch
# the quality gate has always assumed); an earlier PETPRO_PARTITIONS_START lowers it.
PLAUSIBLE_FLOOR = date(2015, 1, 1)


class SettingsError(PetProError, ValueError):
    """A setting has a value the system cannot work with; the message says which and why."""


class Settings(BaseSettings):
    """Configuration shared by every component (env prefix ``PETPRO_``)."""

    model_config = SettingsConfigDict(env_prefix="PETPRO_", extra="ignore")

    home: Path = Field(
        default=REPO_ROOT / ".petpro",
        description="Directory holding everything the system writes.",
    )
    source_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the operational database; unset = embedded server.",
    )
    source_port: int = Field(
        default=54329, description="TCP port of the embedded PostgreSQL server (127.0.0.1)."
    )
    source_database: str = Field(
        default="petpro", description="Database name used on the embedded server."
    )
    timezone: str = Field(default="UTC", description="Business time zone for day/week/month.")
    pii_key: str = Field(
        default="", description="Key for the HMAC pseudonymisation of IP addresses."
    )
    lookback_minutes: int = Field(
        default=60, description="Look-back window of incremental extraction, in minutes."
    )
    late_days: int = Field(
        default=3, description="Days of activity partitions re-processed for late events."
    )
    jwt_secret: str = Field(default="", description="HS256 secret of the PetPro auth service.")
    api_keys: str = Field(
        default="",
        description="Service-account API keys: comma-separated 'name:role:sha256hex' entries.",
    )
    alert_webhook_url: str | None = Field(
        default=None, description="Optional URL that receives run-failure alerts."
    )
    smtp_url: str | None = Field(
        default=None,
        description="SMTP server for report (and alert) e-mail: smtp://[user:password@]host"
        "[:port][?starttls=true] or smtps://…; unset = nothing is e-mailed.",
    )
    report_recipients: str = Field(
        default="",
        description="Comma-separated addresses the scheduled stakeholder report is e-mailed to.",
    )
    alert_recipients: str = Field(
        default="",
        description="Comma-separated e-mail addresses for metric alerts; empty = the report "
        "recipients.",
    )
    mail_from: str = Field(
        default="petpro-reports@localhost",
        description="Sender address of the e-mails the system sends.",
    )
    dashboard_url: str = Field(
        default="http://127.0.0.1:8000/dashboard",
        description="Public address of the dashboard, linked from alert messages.",
    )
    alert_lookback_days: int = Field(
        default=3,
        ge=1,
        description="Metric anomalies on the latest N complete days become alerts (older ones, "
        "e.g. found by a backfill, stay in the marts and the dashboard).",
    )
    export_retention: int = Field(default=30, description="Dated export folders kept.")
    dbt_threads: int = Field(
        default=1,
        ge=1,
        description="dbt worker threads: models and tests run at once, sharing DuckDB's pool "
        "(each query already uses every core).",
    )
    duckdb_memory_limit: str = Field(
        default="384MB",
        description="DuckDB buffer pool of the dbt build (e.g. 384MB, 1GB, 50%); above it DuckDB "
        "spills to disk. For one node at a time (PETPRO_DBT_THREADS=1); the dbt process and the "
        "orchestrator come on top.",
    )
    publish_memory_limit: str = Field(
        default="256MB",
        description="DuckDB buffer pool of the publication (copying the marts into a new "
        "version, the derived marts); above it DuckDB spills beside the staged version. The "
        "copy streams: a larger pool only keeps pages the process no longer needs.",
    )
    partitions_start: date = Field(
        default=date(2024, 1, 1),
        description="First day of the daily activity partitions in Dagster (backfills, schedules).",
    )
    earliest_date: date | None = Field(
        default=None,
        description="First plausible day of the source's history: rows dated before it are "
        "quarantined by ingestion (default: the earlier of PETPRO_PARTITIONS_START and "
        "2015-01-01).",
    )
    export_after_refresh: bool = Field(
        default=False,
        description="Export the reports right after each successful nightly refresh (Dagster).",
    )
    lock_timeout_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds a run waits for the build.duckdb writer lock before giving up.",
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Engine dbt runs the models on: duckdb (one machine) or spark (dbt-spark).",
    )
    lake_url: str | None = Field(
        default=None,
        description="URL of the Parquet lake (s3://bucket/prefix, file:///path); unset = $PETPRO_HOME/lake.",
    )
    spark_method: Literal["session", "thrift"] = Field(
        default="session",
        description="How dbt-spark reaches Spark: session (local pyspark) or thrift (a cluster).",
    )
    spark_master: str = Field(
        default="local[2]", description="Spark master of the session method (local mode)."
    )
    spark_driver_memory: str = Field(
        default="2g", description="Driver memory of the local Spark session."
    )
    spark_shuffle_partitions: int = Field(
        default=4, ge=1, description="spark.sql.shuffle.partitions of every dbt session."
    )
    spark_host: str = Field(default="localhost", description="Spark Thrift server host.")
    spark_port: int = Field(default=10000, description="Spark Thrift server port.")
    spark_user: str = Field(default="petpro", description="User name sent to the Thrift server.")
    spark_schema: str = Field(
        default="petpro",
        description="Spark schema of the models (the lake views go to <schema>_lake).",
    )
    spark_lake_url: str | None = Field(
        default=None,
        description="The lake as Spark addresses it (e.g. s3a://...); unset = PETPRO_LAKE_URL.",
    )
    spark_warehouse_url: str | None = Field(
        default=None,
        description="Spark's spark.sql.warehouse.dir, where the publication reads the marts; "
        "unset = $PETPRO_HOME/warehouse/spark/tables.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"PETPRO_TIMEZONE={value!r} is not an IANA time zone (try 'UTC' or 'Europe/Berlin')"
            ) from exc
        return value

    @field_validator("duckdb_memory_limit", "publish_memory_limit")
    @classmethod
    def _duckdb_size(cls, value: str, info: ValidationInfo) -> str:
        # Checked here, not by DuckDB mid-run: dbt would fail the first model after minutes.
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(%|[KMGT]i?B|bytes)\s*", value):
            raise ValueError(
                f"PETPRO_{(info.field_name or '').upper()}={value!r} is not a size DuckDB reads "
                "(try '2GB', '512MB' or '50%')"
            )
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # ---- derived paths -------------------------------------------------------------
    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def plausible_since(self) -> date:
        """The first day a source timestamp may fall on: ``PETPRO_EARLIEST_DATE``, by default
        the earlier of ``PETPRO_PARTITIONS_START`` and 2015-01-01. Not the partitions start
        alone: vendors, services and staff accounts legitimately predate the first activity
        partition (the synthetic source onboards vendors up to 500 days before its history)."""
        return self.earliest_date or min(self.partitions_start, PLAUSIBLE_FLOOR)

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def lake_location(self) -> str:
        """The lake as a URL or absolute path: PETPRO_LAKE_URL, else ``lake_dir``."""
        return (self.lake_url or str(self.lake_dir)).rstrip("/")

    @property
    def spark_lake_location(self) -> str:
        """The lake as Spark reads it: PETPRO_SPARK_LAKE_URL, else :attr:`lake_location`."""
        return (self.spark_lake_url or self.lake_location).rstrip("/")

    @property
    def spark_dir(self) -> Path:
        """Local Spark state of the session method: metastore, derby.log, managed tables."""
        return self.warehouse_dir / "spark"

    @property
    def spark_warehouse_location(self) -> str:
        """spark.sql.warehouse.dir: PETPRO_SPARK_WAREHOUSE_URL, else ``spark_dir/tables``."""
        return (self.spark_warehouse_url or str(self.spark_dir / "tables")).rstrip("/")

    @property
    def raw_dir(self) -> Path:
        return self.lake_dir / "raw"

    @property
    def state_dir(self) -> Path:
        return self.lake_dir / "_state"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def build_db(self) -> Path:
        return self.warehouse_dir / "build.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def published_db(self) -> Path:
        """The current publication's DuckDB file, through the ``current`` link.

        A reader that needs the DuckDB file *and* the Parquet marts of one publication resolves
        ``current`` once instead (:func:`petpro.publication.current_version`).
        """
        return self.published_dir / CURRENT / DATABASE_FILE

    @property
    def published_marts_dir(self) -> Path:
        """The current publication's Parquet marts, through the ``current`` link."""
        return self.published_dir / CURRENT / MARTS_DIR

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def audit_log(self) -> Path:
        return self.home / "audit" / "audit.jsonl"

    @property
    def alerts_dir(self) -> Path:
        return self.home / "alerts"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def dbt_project_dir(self) -> Path:
        return REPO_ROOT / "dbt_project"

    def _home_secret(self, filename: str, *, create: bool) -> str | None:
        """A random secret kept in ``$PETPRO_HOME/<filename>`` (demo use only)."""
        path = self.home / filename
        if not path.exists():
            if not create:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip()

    def resolved_pii_key(self, *, allow_generated: bool = False) -> bytes:
        """The HMAC key for IP pseudonymisation.

        Outside the demo an empty key is refused: hashes made with a guessable key are not
        pseudonymous. The demo stores a generated random key under ``$PETPRO_HOME`` so that
        re-runs give the same hashes.
        """
        if self.pii_key:
            return self.pii_key.encode()
        if not allow_generated:
            raise SettingsError(
                "PETPRO_PII_KEY is empty: set it to a secret (e.g. `export PETPRO_PII_KEY=$(openssl "
                "rand -hex 32)`) before ingesting, or use `petpro demo` which generates one"
            )
        key = self._home_secret("pii.key", create=True)
        assert key is not None
        return key.encode()

    def with_demo_jwt_secret(self, *, create: bool = False) -> Settings:
        """These settings, with the demo's generated JWT secret when none is configured.

        ``petpro demo`` creates ``$PETPRO_HOME/jwt.secret`` and mints its admin token with it;
        ``petpro serve`` then accepts that token without any configuration. A configured
        ``PETPRO_JWT_SECRET`` always wins.
        """
        if self.jwt_secret:
            return self
        secret = self._home_secret("jwt.secret", create=create)
        return self.model_copy(update={"jwt_secret": secret}) if secret else self


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with optional explicit overrides (tests, CLI)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise SettingsError(str(exc)) from exc
