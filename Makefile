# pintel — two set-up commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export PINTEL_HOME ?= $(abspath data)
export PINTEL_LANDING ?= $(PINTEL_HOME)/landing
export PINTEL_WAREHOUSE ?= $(PINTEL_HOME)/pintel.duckdb
export DAGSTER_HOME ?= $(abspath .dagster_home)
DEMO_USERS ?= 5000
DEMO_DAYS ?= 90
DEMO_SEED ?= 7

.PHONY: install lint format test demo dq ui bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: install
	ruff check pintel dagster_defs tests benchmarks
	ruff format --check pintel dagster_defs tests benchmarks
	@if [ -d dbt_project/models ]; then cd dbt_project && sqlfluff lint models --processes 2; fi

format: install
	ruff check --fix pintel dagster_defs tests benchmarks
	ruff format pintel dagster_defs tests benchmarks
	@if [ -d dbt_project/models ]; then cd dbt_project && sqlfluff fix models --processes 2; fi

test: install lint
	pytest -n 2 --dist loadfile -q

demo: install
	pintel simulate --users $(DEMO_USERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) --out $(PINTEL_LANDING) --overwrite
	@if pintel --help | grep -q ' run '; then pintel run; else pintel build; fi

bench: install
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf data reports .dagster_home dbt_project/target dbt_project/logs
