"""The PetPro settings as a Dagster resource: how assets, checks and sensors learn where data
lives.

:class:`PetProSettings` is a ``ConfigurableResource`` whose fields are the non-secret
``PETPRO_*`` settings. A field left unset falls back to the environment and then to the
default of :class:`petpro.settings.Settings`, so ``PetProSettings()`` in a code location is
exactly the environment, while :meth:`PetProSettings.from_settings` binds one settings object
(tests, the CLI). Secrets (the PII key, the JWT secret, API keys, the source URL that may
carry a password, the alert webhook URL) are never resource config — Dagster shows resource
config in its UI — and are read from the environment of the process that runs the step.
Assets take the resource as a parameter and call :meth:`PetProSettings.settings`; nothing in
the code location reads ``os.environ`` or calls ``get_settings()`` itself.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from petpro.settings import Settings, get_settings

# Settings that never become Dagster config (visible in the UI): read from the environment.
# An SMTP URL may carry a password, so it is a secret too.
SECRET_SETTINGS = frozenset(
    {"source_url", "pii_key", "jwt_secret", "api_keys", "alert_webhook_url", "smtp_url"}
)


def _described(name: str) -> Any:
    return Field(default=None, description=Settings.model_fields[name].description)


class PetProSettings(ConfigurableResource):
    """Where PetPro data lives and how the pipeline behaves (``PETPRO_*``; unset = environment)."""

    home: str | None = _described("home")
    source_port: int | None = _described("source_port")
    source_database: str | None = _described("source_database")
    timezone: str | None = _described("timezone")
    lookback_minutes: int | None = _described("lookback_minutes")
    late_days: int | None = _described("late_days")
    export_retention: int | None = _described("export_retention")
    dbt_threads: int | None = _described("dbt_threads")
    duckdb_memory_limit: str | None = _described("duckdb_memory_limit")
    publish_memory_limit: str | None = _described("publish_memory_limit")
    partitions_start: str | None = _described("partitions_start")
    export_after_refresh: bool | None = _described("export_after_refresh")
    lock_timeout_seconds: float | None = _described("lock_timeout_seconds")
    earliest_date: str | None = _described("earliest_date")
    report_recipients: str | None = _described("report_recipients")
    alert_recipients: str | None = _described("alert_recipients")
    mail_from: str | None = _described("mail_from")
    dashboard_url: str | None = _described("dashboard_url")
    alert_lookback_days: int | None = _described("alert_lookback_days")
    engine: str | None = _described("engine")
    lake_url: str | None = _described("lake_url")
    spark_method: str | None = _described("spark_method")
    spark_master: str | None = _described("spark_master")
    spark_driver_memory: str | None = _described("spark_driver_memory")
    spark_shuffle_partitions: int | None = _described("spark_shuffle_partitions")
    spark_host: str | None = _described("spark_host")
    spark_port: int | None = _described("spark_port")
    spark_user: str | None = _described("spark_user")
    spark_schema: str | None = _described("spark_schema")
    spark_lake_url: str | None = _described("spark_lake_url")
    spark_warehouse_url: str | None = _described("spark_warehouse_url")

    @classmethod
    def from_settings(cls, settings: Settings) -> PetProSettings:
        """A resource bound to every non-secret value of ``settings``."""
        values = settings.model_dump(include=set(cls.model_fields))
        return cls(
            **{
                k: v if isinstance(v, bool | int | float) else str(v)
                for k, v in values.items()
                if v is not None  # unset stays unset (the environment's, then the default)
            }
        )

    def settings(self) -> Settings:
        """The settings: this resource's values over the environment over the defaults."""
        overrides = {name: getattr(self, name) for name in type(self).model_fields}
        return get_settings(**{k: v for k, v in overrides.items() if v is not None})
