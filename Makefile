# Stepwell — every job the README names. A fresh clone needs only python3 (>= 3.11) and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/stepwell_test
PYTEST_WORKERS ?= 2

.PHONY: demo test test-sqlite test-postgres lint bench browser-deps messages clean help

help:
	@echo "make demo   - install, migrate, seed a synthetic region, serve on 127.0.0.1:$(PORT)"
	@echo "make test   - lint, then the whole suite on SQLite and on PostgreSQL"
	@echo "make lint   - ruff, mypy, missing-migration and translation checks"
	@echo "make bench  - benchmarks; results in bench/results/"

$(BIN)/stepwell: pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Stepwell needs Python 3.11 or newer")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $(BIN)/stepwell

demo: $(BIN)/stepwell
	$(BIN)/stepwell migrate --no-input -v 0
	$(BIN)/stepwell seed --if-empty --patients 300 --seed 1
	$(BIN)/stepwell demo_info
	@# The worker delivers safety notifications (to var/outbox/*.jsonl) and escalates overdue
	@# tasks; it stops with the server.
	$(BIN)/stepwell worker & WORKER=$$!; trap "kill $$WORKER 2>/dev/null" EXIT INT TERM; \
	  $(BIN)/stepwell runserver --noreload 127.0.0.1:$(PORT)

lint: $(BIN)/stepwell
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	DATABASE_URL=sqlite:///:memory: $(BIN)/stepwell makemigrations --check --dry-run -v 0
	$(BIN)/python scripts/check_translations.py

# Debian's Chromium for the browser tests; installed when missing (root, or sudo).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

test: lint browser-deps test-sqlite test-postgres

test-sqlite: $(BIN)/stepwell
	@echo "== tests on SQLite =="
	DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 $(BIN)/pytest -n $(PYTEST_WORKERS) -q

test-postgres: $(BIN)/stepwell
	@echo "== tests on PostgreSQL =="
	@if $(BIN)/python scripts/pg_reachable.py "$(TEST_DATABASE_URL)"; then \
	  DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/pytest -n $(PYTEST_WORKERS) -q; \
	elif [ "$$CI" = "true" ]; then \
	  echo "PostgreSQL at $(TEST_DATABASE_URL) is unreachable: failing (CI=true)"; exit 1; \
	else \
	  echo "PostgreSQL at $(TEST_DATABASE_URL) is unreachable: PostgreSQL tests NOT run"; \
	fi

bench: $(BIN)/stepwell
	$(BIN)/python bench/seed_bench.py --patients 100000 --postgres "$(TEST_DATABASE_URL)"
	$(BIN)/python bench/scoring_bench.py --postgres "$(TEST_DATABASE_URL)"
	$(BIN)/python bench/review_bench.py --patients 100000 --postgres "$(TEST_DATABASE_URL)"
	$(BIN)/python bench/matching_bench.py
	$(BIN)/python bench/reminders_bench.py --patients 100000 --postgres "$(TEST_DATABASE_URL)"

# Refresh the catalogues from the code (needs gettext's xgettext), then compile them.
messages: $(BIN)/stepwell
	cd src/stepwell && ../../$(BIN)/django-admin makemessages -l es --no-obsolete \
	  --settings=stepwell.config.settings --ignore "apps/*/migrations/*"
	$(BIN)/python scripts/check_translations.py --write

clean:
	rm -rf $(VENV) var/test.sqlite3* .pytest_cache .mypy_cache .ruff_cache
