# SfE Portal. `make run` serves the back office; `make test` runs the whole suite.
# Python 3.11 to 3.13. The venv is made with PYTHON when given, else with the newest supported
# Python found (python3.13, python3.12, python3.11, then python3: scripts/supported-python), and
# kept while it works. A venv keeps the Python it was made with: to run another one beside it,
# give it its own folder, e.g. `make test PYTHON=python3.13 VENV=.venv-3.13`.
PYTHON ?=
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check lint lint-imports audit lock fmt bench install migrate worker load soak venv

# Says which Python the targets run on; makes the venv first if it is missing or broken.
venv:
	@scripts/supported-python venv $(VENV) $(PYTHON)

# The venv is installed from the hashed pins of requirements-dev.lock (production's plus the dev
# tools, pip among them); the project itself runs from the checkout and is not installed.
$(STAMP): requirements.lock requirements-dev.lock | venv
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
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
	@$(MAKE) --no-print-directory audit

# Known vulnerabilities in the pinned releases of both locks, from PyPI's advisory data (needs
# the network; AUDIT_ARGS="-s osv" asks OSV instead). --strict: a pin that could not be looked up
# fails the audit rather than passing unaudited. A vulnerability with no fixed release yet is let
# through only by its id, listed here with its reason on the line above:
#   AUDIT_IGNORE += --ignore-vuln <id>
AUDIT_IGNORE :=
AUDIT := $(VENV)/bin/pip-audit --strict --progress-spinner off --disable-pip --require-hashes \
	$(AUDIT_IGNORE) $(AUDIT_ARGS)
audit: $(STAMP)
	$(AUDIT) -r requirements.lock
	$(AUDIT) -r requirements-dev.lock

# Both locks come from pyproject.toml: requirements.lock from `dependencies` (what production
# installs), requirements-dev.lock from those plus the `dev` extra, held to production's pins.
# Pins already in a lock are kept unless pyproject.toml asks otherwise; LOCK_ARGS=--upgrade (or
# --upgrade-package NAME) moves them. Universal: one file for Python 3.11 to 3.13 on any platform.
LOCK := $(VENV)/bin/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(STAMP)
	$(LOCK) --output-file requirements.lock
	$(LOCK) --extra dev --constraints requirements.lock --output-file requirements-dev.lock

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
