# The two set-up commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck browser unit integration e2e proto bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/callengine demo

test: $(STAMP) lint typecheck browser
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check engine actors storage tests
	$(BIN)/ruff format --check engine actors storage tests

typecheck: $(STAMP)
	$(BIN)/mypy

# Headless Chromium (Debian's package) for the report rendering tests; installed when missing.
# Not fatal here: the test itself reports why when it cannot get one.
browser: $(STAMP)
	-$(BIN)/python -m tests.fixtures.browser

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP)
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q tests/e2e

proto: $(STAMP)
	$(BIN)/python -m engine.api.protogen

bench: $(STAMP)
	$(BIN)/callengine bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
