# fulfil — two commands do everything:
#   make run    set up and start the whole app with demo data on the marketplace simulators
#   make test   set up and pass every test
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
# Make's own commands (migrate, migration) are for a developer's checkout: its own key in instance/.
FLASK := FULFIL_ENV=$${FULFIL_ENV:-development} .venv/bin/flask --app app
export PYTHONPATH := $(CURDIR)

.PHONY: run test bench chaos venv migrate migration clean

venv: .venv/.installed
.venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $@

run: venv
	bin/run

# bin/find-browser picks the Chromium for the Playwright tests (installing one if need be)
# and says which.
test: venv
	FULFIL_CHROMIUM="$$(bin/find-browser)" && export FULFIL_CHROMIUM && $(PY) -m pytest

# P1–P5 figures (PRODUCT.md quality bars). DATABASE_URL=postgresql+psycopg://... for PostgreSQL.
bench: venv
	$(PY) -m bench.bench_lists
	$(PY) -m bench.bench_bulk
	$(PY) -m bench.bench_push

# R1: 2,000 changes while workers are killed, Redis is flushed and simulators misbehave.
chaos: venv
	$(PY) -m bench.chaos

migrate: venv
	$(FLASK) db upgrade

# Regenerate the initial migration from the models (before the first release only).
migration: venv
	rm -f migrations/versions/0001_initial.py /tmp/fulfil-migration.sqlite3
	DATABASE_URL=sqlite:////tmp/fulfil-migration.sqlite3 $(FLASK) db migrate -m initial --rev-id 0001 >/dev/null
	mv migrations/versions/0001_initial_.py migrations/versions/0001_initial.py 2>/dev/null || true
	rm -f /tmp/fulfil-migration.sqlite3

clean:
	rm -rf .venv instance/*.sqlite3* .pytest_cache
