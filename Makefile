# The two set-up commands of the README are `make run` and `make test`; both install first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install run test test-fast bench bench-peers clean fuzz load lint

$(STAMP): setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,lint]'
	touch $(STAMP)

install: $(STAMP)

## run: install, migrate the embedded SQLite store and serve on http://$(HOST):$(PORT)
##      DEMO=1 also loads demo data and turns development tokens on (for the README tour), and
##      prints the console's demo login (instance/demo-admin.txt); the console cookie is not
##      Secure then, so plain http://127.0.0.1 works in every browser
run: install
	$(BIN)/vgw db upgrade
ifeq ($(DEMO),1)
	# the demo's printed console link and its certificates' QR codes name the port it serves on
	GATEWAY_DEV_TOKENS=true GATEWAY_PUBLIC_BASE_URL=http://$(HOST):$(PORT) $(BIN)/vgw demo load
	GATEWAY_DEV_TOKENS=true GATEWAY_CONSOLE_COOKIE_SECURE=false GATEWAY_PUBLIC_BASE_URL=http://$(HOST):$(PORT) $(BIN)/vgw serve --host $(HOST) --port $(PORT)
else
	$(BIN)/vgw serve --host $(HOST) --port $(PORT)
endif

## test: the whole suite (SQLite and PostgreSQL); CI runs exactly this
test: install
	$(BIN)/pytest -n 2

bench: install
	$(BIN)/python -m benchmarks

## bench-peers: the signed push, the sync pull, the naive path, dlt, meltanolabs-target-postgres
##              and psql COPY loading the same PEERS_RECORDS volunteers into PostgreSQL on fresh
##              tables, PEERS_ROUNDS rounds in rotation: one table (records/s, ratios, CPU split,
##              peak RSS) and issue 14's targets; the peers go into build/peers/ on first use
PEERS_RECORDS ?= 100000
PEERS_ROUNDS ?= 3
bench-peers: install
	$(BIN)/python -m benchmarks.peers --records $(PEERS_RECORDS) --rounds $(PEERS_ROUNDS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

## fuzz: a longer schemathesis campaign over every operation (FUZZ_EXAMPLES per operation
##       and mode, at most FUZZ_BUDGET seconds); prints the requests made and every failure
FUZZ_EXAMPLES ?= 200
FUZZ_BUDGET ?= 1800
fuzz: install
	$(BIN)/python -m tests.fuzz.campaign --max-examples $(FUZZ_EXAMPLES) --budget $(FUZZ_BUDGET)

## load: 20 signed pushers and 5 change-feed readers against gunicorn on PostgreSQL for
##       LOAD_SECONDS (about 2.5 minutes); prints requests, p50/p99 latency, errors, and
##       whether every record is stored once and every reader saw every change once
LOAD_SECONDS ?= 150
load: install
	$(BIN)/python -m benchmarks.load --duration $(LOAD_SECONDS)

## lint: ruff, mypy, the dependency-direction contracts (import-linter, setup.cfg) and the
##       check that the Alembic migrations build the models' schema; CI runs it before `make test`
LINT_PATHS := gateway schemas adapters sync_jobs conformance_tests tests benchmarks
lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m gateway.store.migrations_check
