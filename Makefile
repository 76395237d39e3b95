# The two set-up commands: `make run` and `make test`. Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint types imports pytest fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/syndicator run --config config/syndicator.toml

demo: $(STAMP)
	$(BIN)/syndicator demo

lint: $(STAMP)
	$(BIN)/ruff check syndicator tests benchmarks scripts
	$(BIN)/ruff format --check syndicator tests benchmarks scripts

types: $(STAMP)
	$(BIN)/mypy --strict syndicator

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint types imports pytest

# The property tests (hypothesis) at FUZZ times their CI budget, a new random search each run;
# a failing example is kept in .hypothesis/ and replayed first next time (tests/fuzzing.py).
FUZZ ?= 50
FUZZ_TESTS = $(shell grep -l '^from tests.fuzzing import budget' tests/test_*.py)

fuzz: $(STAMP)
	SYNDICATOR_FUZZ=$(FUZZ) $(BIN)/python -m pytest -q -m hypothesis --timeout=3600 $(FUZZ_TESTS)

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py --skip-memory

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
