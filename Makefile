# The platform's commands. `make demo` and `make test` are all a newcomer needs.
PY       ?= python3
VENV     := .local/venv
PYTHON   := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-$(shell sha1sum pyproject.toml 2>/dev/null | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help install up down status logs demo reconcile land test test-unit lint schema-check bench clean-data docs

help:
	@echo "make demo    install what is missing, start the stack, run the POS→report slice"
	@echo "make test    every test (starts the services it needs)"
	@echo "make reconcile  compare every seller figure: core, Kafka, Delta, marts, API"
	@echo "make up | down | status | logs [SERVICE=name] | land | lint | schema-check | bench"

$(STAMP): pyproject.toml
	@echo "==> python environment in $(VENV)"
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	@$(PYTHON) -m pip install -q --upgrade pip
	@$(PYTHON) -m pip install --progress-bar on -e '.[dev]' --config-settings editable_mode=compat
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)
	@$(PYTHON) -m infra install

up: $(STAMP)
	@$(PYTHON) -m infra up

down:
	@test -x $(PYTHON) && $(PYTHON) -m infra down || true

status: $(STAMP)
	@$(PYTHON) -m infra status

logs: $(STAMP)
	@$(PYTHON) -m infra logs $(SERVICE)

demo: up
	@$(PYTHON) -m orchestration.demo

reconcile: $(STAMP)
	@$(PYTHON) -m orchestration.reconcile $(ARGS)

land: $(STAMP)
	@$(PYTHON) -m pipelines.landing --available-now

# dbt's documentation site (models, columns, tests, lineage) as one file:
# dbt/target/static_index.html. It reads the warehouse's catalog: in embedded mode stop
# the serving API first, or skip the catalog with DOCS_ARGS=--empty-catalog.
DOCS_ARGS ?=
docs: $(STAMP)
	@$(PYTHON) -m warehouse.dbt_cli docs generate --static $(DOCS_ARGS)
	@echo "open dbt/target/static_index.html"

test: $(STAMP)
	@$(PYTHON) -m infra up --no-apps
	@$(PYTHON) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	@$(PYTHON) -m pytest -m "not integration" $(PYTEST_ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy infra platform_common schemas pos_producer pipelines serving_api orchestration warehouse marketplace_core bench
	@$(VENV)/bin/lint-imports
	@$(MAKE) --no-print-directory schema-check

# Refuse an incompatible Avro schema change (schemas/README.md, "Evolving a schema"): the
# working tree against git HEAD (no network), then against every version in the registry
# when it is running.
schema-check: $(STAMP)
	@$(PYTHON) -m schemas.compatibility --against git:HEAD
	@$(PYTHON) -m schemas.compatibility --against registry --skip-unreachable

# ORDER_BASELINE: the revision whose order placement outbox_lag compares against (the
# code before issue 11 §4's work), run interleaved with this checkout's.
ORDER_BASELINE ?= 2ffc39a

bench: $(STAMP)
	@$(PYTHON) -m infra up --no-apps
	@$(PYTHON) -m bench.run --order-baseline $(ORDER_BASELINE)
