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

$(DAGSTER_HOME)/dagster.yaml: dagster_defs/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster_defs/dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	rm -f $(PINTEL_WAREHOUSE) $(PINTEL_WAREHOUSE).wal
	pintel simulate --users $(DEMO_USERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) --out $(PINTEL_LANDING) --overwrite
	dagster job execute -m dagster_defs -j pintel_daily
	pintel summary
	@echo "Dagster UI: make ui  (http://127.0.0.1:3000)"

dq: install
	pintel dq

ui: install $(DAGSTER_HOME)/dagster.yaml
	dagster dev -m dagster_defs -h 127.0.0.1 -p 3000

bench: install
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf data reports .dagster_home dbt_project/target dbt_project/logs
