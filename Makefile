# The README's two commands: `make study` (set up, run the tiny study, print the comparison) and
# `make test`. Everything else is a convenience around them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
export XREP_PROFILE ?= tiny

.PHONY: setup study report test dev dg-dev check clean

$(BIN)/xrep: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/xrep

study: setup
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/xrep study

report: setup
	$(BIN)/xrep report

test: setup
	$(BIN)/python -m pytest -q

dev: setup
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -w workspace.yaml

dg-dev: setup
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/dg dev

check: setup
	$(BIN)/dg check defs

clean:
	rm -rf var
