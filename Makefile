# PetPro analytics. Every target bootstraps its own environment on first use:
# a tools venv with a pinned uv, then `uv sync --frozen` from uv.lock into .venv.
# Nothing but Python >= 3.11 and make is needed; uv never downloads an interpreter.

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
UV_VERSION := 0.13.9

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

PY := $(VENV)/bin/python
PETPRO := $(VENV)/bin/petpro

.PHONY: demo test lint format bench ui clean env system

# Debian packages the tests drive and PyPI cannot provide, as command=package pairs:
# chromium for the dashboard's browser test (Playwright never downloads a browser here);
# poppler-utils (pdftotext, pdftoppm, pdfinfo) to read back and render the stakeholder PDF.
# Java 17 for the local Spark of PETPRO_ENGINE=spark (pyspark's wheel brings the jars).
SYSTEM_PACKAGES := /usr/bin/chromium=chromium pdftotext=poppler-utils java=openjdk-17-jre-headless

env: $(STAMP)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (found " + sys.version.split()[0] + "); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Bytecode is compiled at install (--compile-bytecode, then compileall over this tree, whose
# packages are installed editable; the venvs and homes are skipped): a process that may not
# write .pyc files (PYTHONDONTWRITEBYTECODE, set on this project's machines; a read-only
# install) would otherwise compile every module it imports from source, every time — 2.9 s
# more for Great Expectations' import, 2.2 s more for the Dagster definitions
# (docs/benchmarks.md, "Bytecode compiled at install").
$(STAMP): $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --frozen --compile-bytecode --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	$(VENV)/bin/python -m compileall -q -j 0 -x '/\.(venv|tools|petpro)/|/dbt_project/' .
	$(VENV)/bin/python -m orchestration.manifest
	@touch $@

demo: $(STAMP)
	$(PETPRO) demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests dbt_project/macros --disable-progress-bar

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(VENV)/bin/sqlfluff fix dbt_project/models dbt_project/tests dbt_project/macros --disable-progress-bar

system:
	@scripts/system-packages.sh $(SYSTEM_PACKAGES)

test: lint system
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

ui: $(STAMP)
	$(PY) -m orchestration.manifest
	$(PETPRO) ui

clean:
	-$(PETPRO) source stop 2>/dev/null
	rm -rf .petpro $(VENV) $(TOOLS) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
