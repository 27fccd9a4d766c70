# Two commands matter on a fresh machine: `make demo` and `make test`. Both build .venv
# themselves (re-built when pyproject.toml or requirements/dev.txt change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/uv
PYTEST_WORKERS ?= 2
# Only the folders that exist: git does not keep an empty benchmarks/.
PY_DIRS := $(wildcard src tests examples benchmarks)

.PHONY: venv demo test lint typecheck unit fuzz bench lock fmt clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip install --python $(BIN)/python --quiet -e '.[sandbox]' -r requirements/dev.txt
	touch $@

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --durations=15

# The fuzz tests (hypothesis) with thousands of examples each, not `make test`'s few dozen.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -n $(PYTEST_WORKERS) -k fuzz

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Refresh the action's hash-locked runtime dependencies from requirements/runtime.in: one
# universal lock (every platform, Python 3.9 up) with wheels only, as the action installs it
# (--require-hashes --only-binary :all:). tests/runtime/test_lock.py fails when it is out of date.
# Also requirements/release/build.txt, not the action's: what .github/workflows/release.yml
# builds the release with (build and hatchling, Python 3.11 up).
lock: $(STAMP)
	$(UV) pip compile requirements/runtime.in --universal --python-version 3.9 \
		--only-binary :all: --generate-hashes --no-header --annotation-style line \
		-o requirements/runtime.txt
	$(UV) pip compile requirements/readme.in --universal --python-version 3.9 \
		--only-binary :all: --generate-hashes --no-header --annotation-style line \
		-o requirements/readme.txt
	$(UV) pip compile requirements/attestations.in --universal --python-version 3.9 \
		--only-binary :all: --generate-hashes --no-header --annotation-style line \
		-o requirements/attestations.txt
	$(UV) pip compile requirements/release/build.in --universal --python-version 3.11 \
		--only-binary :all: --generate-hashes --no-header --annotation-style line \
		-o requirements/release/build.txt

fmt: $(STAMP)
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
