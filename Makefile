# fulfil — `make run` starts everything with demo data; `make test` runs every test.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
FLASK := .venv/bin/flask --app app
export PYTHONPATH := $(CURDIR)

.PHONY: run test bench chaos venv migrate migration clean

venv: .venv/.installed
.venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $@

migrate: venv
	$(FLASK) db upgrade

# Regenerate the initial migration from the models (before the first release only).
migration: venv
	rm -f migrations/versions/0001_initial.py /tmp/fulfil-migration.sqlite3
	DATABASE_URL=sqlite:////tmp/fulfil-migration.sqlite3 $(FLASK) db migrate -m initial --rev-id 0001 >/dev/null
	mv migrations/versions/0001_initial_.py migrations/versions/0001_initial.py 2>/dev/null || true
	rm -f /tmp/fulfil-migration.sqlite3

test: venv
	$(PY) -m pytest

clean:
	rm -rf .venv instance/*.sqlite3* .pytest_cache
