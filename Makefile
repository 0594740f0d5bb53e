# `make run` and `make test` set everything up themselves on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint install clean bench bundle

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/regeling init
	$(BIN)/regeling demo
	$(BIN)/python -m web --port 5000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/regeling validate processes/

test: lint
	bash .ci/ensure-chromium.sh
	bash .ci/ensure-docker.sh
	TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$(bash .ci/ensure-postgres.sh)}" $(BIN)/python -m pytest -q

# Rebuild web/static/vendor/bpmn-modeler/ (the built files are committed: run/test never need Node).
bundle:
	cd tools/bpmn-build && npm ci --no-audit --no-fund && npm run build

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
