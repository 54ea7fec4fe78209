# Millrace: `make run` serves everything on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?= -n 2
# Exact versions with their hashes (pyproject.toml keeps the ranges); `make lock` refreshes it.
LOCK := requirements.lock
# `make lock LOCK_UPGRADE=` keeps today's pins and only resolves what pyproject.toml changed.
LOCK_UPGRADE ?= --upgrade

.PHONY: run test lint format bench bench-n8n chaos load fuzz install lock migrate bootstrap screenshots clean

# The project itself is no package (`packages = []`): the lock is everything to install.
$(VENV)/.installed: $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	@touch $@

install: $(VENV)/.installed

# Every pin to the newest release pyproject.toml allows, for every platform, from PyPI; then `make test`.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" --quiet $(LOCK_UPGRADE) -o $(LOCK)

migrate: install
	$(PY) manage.py migrate --noinput

bootstrap: migrate
	$(PY) manage.py bootstrap --demo

run: bootstrap
	$(PY) manage.py serve --port $(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m bench

# The same with n8n 2.8.4 side by side (bench/n8n/; npm installs it outside the repository the
# first time, into BENCH_N8N_HOME). Never in CI.
bench-n8n: install
	BENCH_N8N=1 $(PY) -m bench

# Crash/restart chaos (tests/system/test_chaos.py) with more executions and fault rounds; needs
# PostgreSQL and Redis, and restarts Redis while it runs.
CHAOS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/millrace_chaos
CHAOS_REDIS_URL ?= redis://127.0.0.1:6379/12
CHAOS_EXECUTIONS ?= 1000
CHAOS_ROUNDS ?= 4
CHAOS_PACE ?= 20

chaos: install
	DATABASE_URL=$(CHAOS_DATABASE_URL) REDIS_URL=$(CHAOS_REDIS_URL) MILLRACE_QUEUE_NAME=millrace-chaos \
	SECRET_KEY=$${SECRET_KEY:-chaos-only-secret-key-not-for-production} \
	MILLRACE_CREDENTIALS_KEY=$${MILLRACE_CREDENTIALS_KEY:-Y2hhb3Mtb25seS1jcmVkZW50aWFscy1rZXktMzJieXQ=} \
	CHAOS_EXECUTIONS=$(CHAOS_EXECUTIONS) CHAOS_ROUNDS=$(CHAOS_ROUNDS) CHAOS_PACE=$(CHAOS_PACE) \
		$(PY) -m pytest tests/system/test_chaos.py -m services -n 0 -s

# 60 s of webhook load with 200 WebSocket subscribers (bench/load.py; LOAD_* knobs).
load: install
	$(PY) -m bench.load

# Coverage-guided fuzzing (atheris) of the definition loader/validator and the template renderer,
# bounded in runs and seconds per target; the same properties run under hypothesis in `make test`.
FUZZ_RUNS ?= 200000
FUZZ_SECONDS ?= 120

fuzz: install
	$(PY) -m pip install --quiet --disable-pip-version-check atheris
	$(PY) tests/reliability/fuzz_atheris.py definitions -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS)
	$(PY) tests/reliability/fuzz_atheris.py templates -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS)

# The browser tests, rewriting the README's committed screenshots (docs/screenshots/).
screenshots: install
	MILLRACE_SCREENSHOTS=1 $(PY) -m pytest tests/browser -n 0

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
