# SfE Portal. `make run` serves the back office; `make test` runs the whole suite.
# Python 3.11 to 3.13. The venv is made with PYTHON when given, else with the newest supported
# Python found (python3.13, python3.12, python3.11, then python3: scripts/supported-python), and
# kept while it works. A venv keeps the Python it was made with: to run another one beside it,
# give it its own folder, e.g. `make test PYTHON=python3.13 VENV=.venv-3.13`.
PYTHON ?=
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check lint lint-imports fmt bench install migrate worker load soak venv

# Says which Python the targets run on; makes the venv first if it is missing or broken.
venv:
	@scripts/supported-python venv $(VENV) $(PYTHON)

$(STAMP): pyproject.toml requirements.lock | venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed_demo
	VENV=$(VENV) $(VENV)/bin/honcho start -f Procfile

test: $(STAMP)
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# The layers contract of pyproject.toml ([tool.importlinter]): which app may import which.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

check: lint test

bench: $(STAMP)
	$(PY) -m bench

# Long runs on demand (PostgreSQL on 127.0.0.1:5432 and redis-server needed); docs/reliability.md.
# `make soak GENERATION=expenses` soaks Codat's newer Expenses API (default: v1).
load: $(STAMP)
	$(PY) -m reliability load $(RELIABILITY_ARGS)

soak: $(STAMP)
	$(PY) -m reliability soak $(if $(GENERATION),--generation $(GENERATION)) $(RELIABILITY_ARGS)

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
