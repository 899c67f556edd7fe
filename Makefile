# Two entry points: `make demo` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs on this many processes (pytest-xdist); a test module stays on one process, so its fixtures are built once.
TEST_WORKERS ?= 2

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/optimizer solve scenarios/baseline.yaml --out out/baseline

lint: $(STAMP)
	$(BIN)/ruff check optimizer tests bench
	$(BIN)/mypy

test: $(STAMP) lint
	.ci/system-packages
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) out .pytest_cache
