# ordergate: `make run` serves the gateway with its four simulated upstreams,
# `make test` runs the whole suite. Both create .venv and install what they need.
#
# What is installed is what the lock files say, hash for hash: requirements-dev.lock (the
# runtime dependencies and the `test` extra; one venv serves `make run` and `make test`) here,
# requirements.lock (the runtime dependencies alone) in the image. uv installs them in seconds
# where pip took minutes. `make lock` regenerates both after pyproject.toml changes;
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release pyproject allows.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.10
UV := $(BIN)/uv
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
# Reinstalled when pyproject.toml or the dev lock change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements-dev.lock | cksum | cut -d' ' -f1)
# Universal: one lock for Linux (the image, CI) and a developer's macOS alike.
LOCK_FLAGS := --universal --generate-hashes --python-version 3.11 --custom-compile-command 'make lock' --quiet

.PHONY: run test lint lock bench bench-write bench-edge bench-resilience mutation install clean

# uv itself comes from PyPI through the venv's own pip, pinned (the one install not checked
# against a hash: the build backend uv fetches to build the project is the other).
$(UV_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	rm -f $(VENV)/.uv-*
	touch $(UV_STAMP)

# `uv pip sync` removes whatever the lock does not name (it leaves pip and uv themselves).
$(STAMP): pyproject.toml requirements-dev.lock $(UV_STAMP)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Regenerates the locks from pyproject.toml (keeping the pins that still fit). The dev lock
# is constrained by the runtime lock: the image runs the versions the suite ran.
lock: $(UV_STAMP)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) --extra test \
		-c requirements.lock -o requirements-dev.lock

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
