# ordergate: `make run` serves the gateway with its four simulated upstreams,
# `make test` runs the whole suite. Both create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench bench-write bench-edge bench-resilience mutation install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ordergate run

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy gateway schema resolvers backends domain store feed telemetry tools

bench: $(STAMP)
	$(BIN)/python bench/read_path.py

bench-write: $(STAMP)
	$(BIN)/python bench/write_path.py

bench-edge: $(STAMP)
	$(BIN)/python bench/edge.py

bench-resilience: $(STAMP)
	$(BIN)/python -m bench.resilience

# Mutation testing of the core rules (not in CI: about an hour on 2 cores). README: "Mutation testing".
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .mutation ordergate.db
