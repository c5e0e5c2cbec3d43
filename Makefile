# pamgate: `make run` starts the gateway on SQLite with demo keys; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
PORT ?= 8000

export PAMGATE_PARTNERS_FILE ?= $(CURDIR)/config/demo_partners.toml

.PHONY: run test lint install migrate demo serve clean bench bench-scale bench-counter wrk fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/pamgate migrate

demo: migrate
	$(BIN)/pamgate demo --base-url http://127.0.0.1:$(PORT)

# make run PORT=8080 serves (and prints its curl calls) on another port
run: demo
	$(BIN)/pamgate serve --bind 127.0.0.1:$(PORT)

# ruff (lint and format), the layering contracts of pyproject.toml (import-linter), mypy.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# pytest on SQLite, then again on PostgreSQL when it answers (or PAMGATE_TEST_DATABASE_URL is
# set); tests/pg_probe.py says whether the server or only the database is missing.
test: lint
	PAMGATE_TEST_DATABASE_URL= $(BIN)/python -m pytest -q -p no:cacheprovider
	@if [ -n "$$PAMGATE_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL run: $$PAMGATE_TEST_DATABASE_URL"; \
		$(BIN)/python -m pytest -q -p no:cacheprovider; \
	elif $(BIN)/python tests/pg_probe.py '$(PG_URL)'; then \
		echo "== PostgreSQL run: $(PG_URL)"; \
		PAMGATE_TEST_DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -q -p no:cacheprovider; \
	fi

# longer fuzzing from /openapi.json than `make test`'s: random seed, FUZZ_EXAMPLES requests
# per operation (default 200), on SQLite (or PAMGATE_TEST_DATABASE_URL)
FUZZ_EXAMPLES ?= 200
fuzz: install
	PAMGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/functional/test_openapi_fuzz.py

# the load generator: Debian's wrk, installed when missing (root), else say how
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && export DEBIAN_FRONTEND=noninteractive && \
		{ apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; } \
		>/dev/null; } || { echo "wrk is required: apt-get install wrk"; exit 1; }

# PostgreSQL at PAMGATE_BENCH_PG (default $(PG_URL))
bench: install wrk
	$(BIN)/python bench/run_all.py

# PostgreSQL through bench/latency_proxy.py (+5 ms each way), 256 players, 2 vs 16 workers
bench-scale: install wrk
	$(BIN)/python bench/scale_bench.py

# two cashiers paying 1,000 winners over HTTP; statements over 1,000,000 tickets
bench-counter: install wrk
	$(BIN)/python bench/counter_bench.py

clean:
	rm -rf $(VENV) pamgate.db pamgate.db-wal pamgate.db-shm .pytest_cache .ruff_cache .mypy_cache
