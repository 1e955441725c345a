# The two commands of the README: `make demo` and `make test`. Both build .venv from scratch
# with the system's python3.11 (or python3 >= 3.11) and reinstall when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-ui bench soak test lint typecheck pytest install install-dev simulator dev clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-dev

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/tjar-pipelines demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/pyright

pytest: install-dev
	$(BIN)/pytest

test: lint typecheck pytest

# Long fault and crash variants (minutes): many seeds of every fault, SIGKILL at random moments.
soak: install-dev
	$(BIN)/pytest -m soak

# Benchmarks (not part of `make test`): the contenders table, then the webhook figures.
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

simulator: install
	$(BIN)/tjar-pipelines simulator

dev: install
	$(BIN)/dagster dev -w workspace.yaml

# The Dagster UI on the demo's stores: serves them again and loads data/demo/stores.yaml.
demo-ui: install
	@test -f data/demo/demo.env || $(MAKE) demo
	set -a; . data/demo/demo.env; set +a; \
	$(BIN)/tjar-pipelines simulator --port 8765 --orders 2000 & sim=$$!; \
	trap 'kill $$sim' EXIT INT TERM; \
	DAGSTER_HOME=$${DAGSTER_HOME:-$$PWD/data/demo/dagster_home}; mkdir -p $$DAGSTER_HOME; \
	DAGSTER_HOME=$$DAGSTER_HOME $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
