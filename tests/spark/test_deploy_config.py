"""The scale-out configuration files parse and name only settings that exist.

``deploy/`` ships the Helm values of the official Dagster chart, the environment file of a
scaled deployment and the spark-defaults of the Thrift server; ``dbt_project/profiles.yml``
holds the Spark targets. None of them can be deployed here, so this checks what can go wrong
on paper: syntax, every ``PETPRO_`` name being a real setting, the run-queue limit matching
the single-writer rules of ``dagster.yaml`` and ``orchestration/tags.py`` (and no op pool in
either: the build lock serialises the writing steps), and
every variable the Spark targets read being exported by ``warehouse.dbt.dbt_env``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from orchestration.tags import WRITER_TAG, WRITER_VALUE
from petpro.settings import REPO_ROOT, Settings, get_settings

DEPLOY = REPO_ROOT / "deploy"
PETPRO_NAME = re.compile(r"\bPETPRO_[A-Z0-9_]+\b")
SETTINGS = {f"PETPRO_{name.upper()}" for name in Settings.model_fields}


def test_every_petpro_name_in_the_deploy_files_is_a_setting() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "dagster-values.yaml",
        "petpro-scale.env",
        "spark-defaults.conf",
    }
    for path in files:
        unknown = set(PETPRO_NAME.findall(path.read_text())) - SETTINGS
        assert not unknown, (
            f"{path.relative_to(REPO_ROOT)} names no such setting: {sorted(unknown)}"
        )


def test_the_scale_env_file_is_a_valid_configuration(tmp_path: Path) -> None:
    values = {}
    for line in (DEPLOY / "petpro-scale.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip().removeprefix("PETPRO_").lower()] = value.strip()
    values["home"] = str(tmp_path)  # the deployment's /var/lib/petpro does not exist here
    settings = get_settings(**values)
    assert (settings.engine, settings.spark_method) == ("spark", "thrift")
    assert settings.lake_location.startswith("s3://")


def test_the_helm_values_enforce_the_single_writer_rules() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "dagster-values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    limits = coordinator["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": WRITER_TAG, "value": WRITER_VALUE, "limit": 1} in limits
    instance = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert {"key": WRITER_TAG, "value": WRITER_VALUE, "limit": 1} in instance["concurrency"][
        "runs"
    ]["tag_concurrency_limits"]
    # Writing steps take the build lock, which dies with its holder; an op pool would keep a
    # killed run's slot. Neither the instance nor the chart may bring a pool back.
    assert "pools" not in instance["concurrency"]
    chart_instance = values.get("additionalInstanceConfig") or {}
    assert "pools" not in (chart_instance.get("concurrency") or {})
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    module = deployment["dagsterApiGrpcArgs"][
        deployment["dagsterApiGrpcArgs"].index("--module-name") + 1
    ]
    assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file()


def test_the_spark_defaults_pin_the_models_conventions() -> None:
    conf = {}
    for line in (DEPLOY / "spark" / "spark-defaults.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split(None, 1)
            conf[key] = value.strip()
    profile = yaml.safe_load((REPO_ROOT / "dbt_project" / "profiles.yml").read_text())
    session = profile["petpro"]["outputs"]["spark_thrift"]["server_side_parameters"]
    for key in (
        "spark.sql.session.timeZone",
        "spark.sql.timestampType",
        "spark.sql.parquet.outputTimestampType",
    ):
        assert conf[key] == session[key], key


def test_the_spark_targets_read_only_variables_run_dbt_exports(tmp_path: Path) -> None:
    from warehouse.dbt import dbt_env

    text = (REPO_ROOT / "dbt_project" / "profiles.yml").read_text()
    profile = yaml.safe_load(text)
    outputs = profile["petpro"]["outputs"]
    assert outputs["spark"]["method"] == "session" and outputs["spark_thrift"]["method"] == "thrift"
    read = set(re.findall(r"env_var\('([A-Z0-9_]+)'", text))
    exported = set(dbt_env(get_settings(home=tmp_path, engine="spark")))
    assert read <= exported, (
        f"profiles.yml reads variables run_dbt never sets: {sorted(read - exported)}"
    )
