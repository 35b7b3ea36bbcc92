# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
# `make test-quick` skips the slow end-to-end tests (marked `slow`) for a loop of under two minutes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_SERVER_LEVEL := CRITICAL
export DO_NOT_TRACK := 1

.PHONY: run test test-quick lint install bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; install Python 3.11 or run: make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/digest run
	@echo 'make: digest is installed in $(VENV), not on PATH; call it as $(BIN)/digest --help (or: source $(BIN)/activate, then digest --help)'

test: $(STAMP)
	$(BIN)/python -m pytest

test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy digest flows

bench: $(STAMP)
	$(BIN)/python bench/boilerplate.py
	$(BIN)/python bench/stories.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/fetch.py

clean:
	rm -rf $(VENV) .digest outbox/*/ outbox/index.html
