# The README's two commands: `make study` (set up, run the tiny study, print the comparison) and
# `make test`. Everything else is a convenience around them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# where `xrep study` records its runs, so that `make dev` shows them
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
export XREP_PROFILE ?= tiny

.PHONY: setup study report test dev dg-dev check fixtures clean

$(BIN)/xrep: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/xrep

study: setup
	$(BIN)/xrep study

report: setup
	$(BIN)/xrep report

test: setup
	$(BIN)/python -m pytest -q

dev: setup
	$(BIN)/xrep dagster-home
	$(BIN)/dagster dev -w workspace.yaml

dg-dev: setup
	$(BIN)/xrep dagster-home
	. $(BIN)/activate && dg dev

check: setup
	. $(BIN)/activate && dg check defs

# rewrite the shipped format fixtures (xrep_assets/fixtures) with their generator
fixtures: setup
	$(BIN)/python tools/build_fixtures.py

clean:
	rm -rf var
