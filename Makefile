# Self-bootstrapping targets: each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SCENARIO ?= scenarios/us_baseline.yaml

.PHONY: run test lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Quickstart 1: run the main job (a shipped scenario) on the embedded defaults.
## --force: a second `make run` replaces runs/quickstart (mfalab refuses a non-empty --out).
run: $(STAMP)
	$(BIN)/mfalab run $(SCENARIO) --out runs/quickstart --force

## Quickstart 2: the test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/sim_bench.py
	$(BIN)/python bench/report_bench.py

## schemathesis, long run: every check, FUZZ_EXAMPLES per operation and phase, against a
## server on 127.0.0.1 (SQLite, codes in memory) started and stopped here.
FUZZ_EXAMPLES ?= 300
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py --examples $(FUZZ_EXAMPLES)

clean:
	rm -rf $(VENV) runs var .pytest_cache
