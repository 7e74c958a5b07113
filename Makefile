# Two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
export TARLA_DATABASE_URL ?= sqlite:///$(CURDIR)/var/tarla.sqlite3

.PHONY: run test install install-test system-deps bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: set up, migrate, load demo data, serve the web app and print its URL
run: install
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

## make test: install what the suites need and run every suite
test: install-test system-deps
	$(BIN)/python -m pytest

system-deps:
	./scripts/system-deps.sh

bench: install-test
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/worklist.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/capacity.py

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/tarla/domain src/tarla/label

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
