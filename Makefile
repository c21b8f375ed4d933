# The README's two commands: `make run` and `make test`. Both set themselves up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest soak bench bench-cluster bench-growth clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/shanhe cluster up --data-dir data --nodes 4 --base-port 8700

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

soak: $(STAMP)
	$(BIN)/python -m tests.sim --seeds 5000 --first 300

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps merkletools==1.0.3
	$(BIN)/python -m bench.merkle

bench-cluster: $(STAMP)
	$(BIN)/python -m bench.cluster

# issue 14: fresh vs grown networks; GROWTH_ARGS e.g. --sizes 0,100000,1000000 --db sqlite,postgres
bench-growth: $(STAMP)
	$(BIN)/python -m bench.growth $(GROWTH_ARGS)

clean:
	rm -rf $(VENV) data
