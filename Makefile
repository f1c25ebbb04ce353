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

.PHONY: install install-spark browser test-deps lint format test test-spark dq-ci demo dq ui bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# pip byte-compiles what it installs on one core (~45 CPU s); compileall does the same on every core, leaving
	# out the packages' own test suites (a quarter of the files; nothing imports them). Files that do not compile
	# (a package's test fixtures) are skipped, as pip skips them.
	$(BIN)/pip install --quiet --no-compile -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 -x '/tests?/' $(abspath $(VENV))/lib >/dev/null || true
	touch $@

# The Spark target's extra (dbt-spark, PySpark; Java 17 must be on PATH). Not part of `make install`.
install-spark: $(VENV)/.installed-spark

$(VENV)/.installed-spark: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

# Headless Chromium for the digest's render test: Debian's chromium package, installed when missing where apt-get
# can run non-interactively (root, as in CI); elsewhere a note, and that one test is skipped outside CI.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (digest screenshot test)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	      || echo "could not install chromium (see apt-get above): the digest screenshot test will fail"; \
	  else echo "chromium is missing: install Debian's chromium package for the digest screenshot test"; fi; \
	fi

lint: install
	ruff check pintel dagster_defs tests benchmarks
	ruff format --check pintel dagster_defs tests benchmarks
	@mkdir -p $(dir $(PINTEL_WAREHOUSE))
	@if [ -d dbt_project/models ]; then cd dbt_project && sqlfluff lint models --processes 2; fi

format: install
	ruff check --fix pintel dagster_defs tests benchmarks
	ruff format pintel dagster_defs tests benchmarks
	@if [ -d dbt_project/models ]; then cd dbt_project && sqlfluff fix models --processes 2; fi

# pytest's shared temporary folder is kept under build/ so dq-ci can check the small world the tests already
# simulated and built (tests/conftest.py's warehouse_small) instead of simulating and building another one.
PYTEST_TMP := $(abspath build/pytest)
# The browser (Debian's packages) installs beside the Python packages (PyPI) and the lint that needs them: on a
# fresh CI machine each install is mostly a download from its own registry (49 s for the browser here), so one
# waiting on the other is time for nothing.
test-deps:
	@$(MAKE) --no-print-directory -j2 browser lint

test: test-deps
	@mkdir -p $(dir $(PYTEST_TMP))
	pytest -n 2 --dist loadfile --no-loadscope-reorder -q --basetemp=$(PYTEST_TMP)
	$(MAKE) --no-print-directory dq-ci DQ_WORLD=$(PYTEST_TMP)/warehouse_small

# The SQL layer built on local Spark and on DuckDB from the same raw tables; every table must match to the row.
test-spark: install-spark
	PINTEL_TEST_SPARK=1 pytest -q -s -p no:cacheprovider -m spark tests/test_spark.py

# A small simulated warehouse checked by every Great Expectations suite: Data Docs land in reports/ and the
# one-screen summary in the CI log. Under `make test` that is the tests' small world (DQ_WORLD, complete once its
# build passed); on its own, dq-ci simulates and builds one.
CI_HOME := $(abspath build/ci)
DQ_WORLD ?=
dq-ci: install
	@if [ -n "$(DQ_WORLD)" ] && [ -f "$(DQ_WORLD)/.complete" ]; then \
	  echo "dq-ci: checking the small world the tests built ($(DQ_WORLD))"; \
	  pintel dq --warehouse $(DQ_WORLD)/pintel.duckdb --reports reports; \
	else \
	  rm -rf $(CI_HOME) && \
	  pintel simulate --users 800 --days 60 --seed 11 --out $(CI_HOME)/landing && \
	  PINTEL_REPORTS=$(abspath reports) pintel build --warehouse $(CI_HOME)/pintel.duckdb --landing $(CI_HOME)/landing --exclude path:models/ml && \
	  pintel dq --warehouse $(CI_HOME)/pintel.duckdb --reports reports; \
	fi

$(DAGSTER_HOME)/dagster.yaml: dagster_defs/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster_defs/dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	rm -f $(PINTEL_WAREHOUSE) $(PINTEL_WAREHOUSE).wal
	pintel simulate --users $(DEMO_USERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) --out $(PINTEL_LANDING) --overwrite
	# decisions, then actions in Slack dry run (no token: the Block Kit is rendered and stored, nothing is posted)
	env -u PINTEL_SLACK_BOT_TOKEN dagster job execute -m dagster_defs -j pintel_daily
	pintel ask --warm
	pintel summary
	pintel dq
	@echo "Digest: $${PINTEL_REPORTS:-$(abspath reports)}/digest.html (and digest.md); pintel serve serves it at /digest"
	@echo "Dagster UI: make ui  (http://127.0.0.1:3000)"

dq: install
	pintel dq

ui: install $(DAGSTER_HOME)/dagster.yaml
	dagster dev -m dagster_defs -h 127.0.0.1 -p 3000

# The whole pipeline stage by stage (wall, CPU, peak RSS), the dbt-vs-hand-run overhead and the one-new-day ratio,
# appended to BENCHMARKS.md: `make bench SIZES="1M 10M 40M"` (1M runs 3 times; BENCH_ARGS e.g. --sql-only).
# Not part of `make test` (tests/test_bench_pipeline.py runs a tiny smoke of it).
SIZES ?= 1M
BENCH_ARGS ?=
bench: install
	$(BIN)/python benchmarks/bench_pipeline.py --sizes $(SIZES) $(BENCH_ARGS)

clean:
	rm -rf data reports .dagster_home dbt_project/target dbt_project/logs
