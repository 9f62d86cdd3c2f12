# One-command entry points. Every target builds .venv first when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/dbt_project.yml dbt_project/profiles.yml dbt_project/models \
	dbt_project/macros dbt_project/tests -type f 2>/dev/null)

.PHONY: demo test ui lint check-defs format clean manifest sources

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# The dbt manifest the definitions are built from: parsed once, again only when a file of the
# dbt project changed (importing the code location never parses).
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -m cc_assets.defs.analytics.project

manifest: $(MANIFEST)

# The dbt files that restate the Arrow schemas (the sources' YAML, the staging models over
# email_metrics), regenerated from them after a schema change; a test fails until they are.
sources: $(STAMP)
	$(BIN)/python -m cc_assets.defs.analytics.sources

# `make demo API_VERSION=v2`: the same demo through the legacy v2 API of the sandbox account.
demo: $(STAMP) $(MANIFEST)
	$(BIN)/python -m cc_assets.demo $(if $(API_VERSION),--api-version $(API_VERSION))

# pytest exits 5 when it collected no tests: that is a failure here, never a green run.
# Most of a test's time is spent waiting on rate-limited sandboxes and subprocesses, so four
# workers (pytest-xdist) finish the suite in about half the time even on two cores.
# The slow tests start first, and the readers of one costly shared build (a module fixture) go
# to one worker, which builds it once (`loadgroup`, in the order cc_assets_tests/conftest.py
# gives: no reordering by group size).
PYTEST_WORKERS ?= 4
test: $(STAMP) $(MANIFEST)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder \
		--durations=25 $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest ran no tests" >&2; exit 1; fi; exit $$status

ui: $(STAMP) $(MANIFEST)
	$(BIN)/python -m cc_assets.ui

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Dagster's own validation of the code location (`dg check defs`: loads every definition and
# the component YAML, fails on an error). VIRTUAL_ENV: dg runs in the project's .venv either
# way, and says so unless it is the active one.
check-defs: $(STAMP) $(MANIFEST)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .dagster_home .dagster_home_v2 dbt_project/target dbt_project/logs
