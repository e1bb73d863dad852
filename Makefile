# The two set-up commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
EXTRAS_ALL := embedded,demo,test,dev
LINTED := engine actors storage tests tools

.PHONY: demo test lint typecheck lowest browser nginx unit integration e2e proto lock lock-upgrade bench mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Everything: the engine, the demo/bench extras, test and dev tools, at the locked versions.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS_ALL)]"
	touch $(STAMP) $(DEMO_STAMP)

# The engine and what the demo needs (embedded PostgreSQL, rich, psutil, matplotlib, PyYAML).
$(DEMO_STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[demo]"
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/callengine demo

test: $(STAMP) lint typecheck lowest browser nginx
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy

# The declared minimum versions really work: lowest versions in a throwaway venv, unit tests there.
lowest: $(STAMP)
	$(BIN)/python tools/lowest_versions.py --uv $(BIN)/uv

# Headless Chromium (Debian's package) for the report rendering tests; installed when missing.
# Not fatal here: the test itself reports why when it cannot get one.
browser: $(STAMP)
	-$(BIN)/python -m tests.fixtures.browser

# Debian's nginx for the TLS proxy test (deploy/nginx/ run on loopback); installed when missing.
nginx: $(STAMP)
	-$(BIN)/python -m tests.fixtures.nginx

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP)
	RAY_AUTH_MODE=disabled $(BIN)/python -m pytest -q tests/e2e

# Regenerate engine/api/gen from proto/ and set the protobuf/grpcio minimums from the stubs.
proto: $(STAMP)
	$(BIN)/python -m engine.api.protogen

# Regenerate the lock (constraints.txt) from pyproject.toml, keeping the current pins where they
# still fit; `make lock-upgrade` moves every pin to the newest allowed version.
LOCK_CMD = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--extra embedded --extra demo --extra test --extra dev --extra mutation pyproject.toml -o constraints.txt
lock: $(STAMP)
	$(LOCK_CMD)

lock-upgrade: $(STAMP)
	$(LOCK_CMD) --upgrade

bench: $(DEMO_STAMP)
	$(BIN)/callengine bench

# Mutation testing of the pure core (slow, not part of `make test`): docs/testing.md.
# MODULES="engine/dispatch/rate.py …" limits the run; MUTATION_CHILDREN sets parallel test processes.
MUTATION_STAMP := $(VENV)/.mutation-installed
$(MUTATION_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS_ALL),mutation]"
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	$(BIN)/python tools/mutation.py $(MODULES)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
