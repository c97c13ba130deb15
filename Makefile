# SfE Portal. `make run` serves the back office; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check lint fmt bench install migrate worker load soak

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed_demo
	$(VENV)/bin/honcho start -f Procfile

test: $(STAMP)
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

check: lint test

bench: $(STAMP)
	$(PY) -m bench

# Long runs on demand (PostgreSQL on 127.0.0.1:5432 and redis-server needed); docs/reliability.md.
load: $(STAMP)
	$(PY) -m reliability load $(RELIABILITY_ARGS)

soak: $(STAMP)
	$(PY) -m reliability soak $(RELIABILITY_ARGS)

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
