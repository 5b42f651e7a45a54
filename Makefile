# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: run test test-fast screenshots lint install install-dev lock clean

UV_VERSION := 0.13.9
# uv installs the locks (every hash checked, as pip would) in a fraction of pip's time. It writes
# the bytecode at install time as pip does (uv does not unless asked): where PYTHONDONTWRITEBYTECODE
# is set, as on the CI machine, every Python process would otherwise compile ~1,300 modules again
# (1.7 s before `manage.py` does anything; each test worker, subprocess and gunicorn worker pays it).
UV := VIRTUAL_ENV=$(VENV) $(BIN)/uv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv==$(UV_VERSION)

# The service needs only the runtime lock; tests and tools add the development lock.
$(RUNTIME): requirements.lock | $(BIN)/python
	$(UV) pip install --quiet --compile-bytecode --require-hashes -r requirements.lock
	touch $(RUNTIME)

$(DEV): requirements-dev.lock | $(BIN)/python
	$(UV) pip install --quiet --compile-bytecode --require-hashes -r requirements-dev.lock
	touch $(RUNTIME) $(DEV)

install: $(RUNTIME)
install-dev: $(DEV)

## Serve the API and admin at http://127.0.0.1:$(PORT) on SQLite, with demo data, a printed token
## and admin login, and a webhook worker beside it.
run: $(RUNTIME)
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	@DEMO=$$($(BIN)/python manage.py seed_demo --staff-login) && set -- $$DEMO && \
	  echo && echo "Demo token (shown once): $$1" && \
	  echo "Try:  curl -s -H 'Authorization: Bearer $$1' 'http://127.0.0.1:$(PORT)/v1/cases?limit=5'" && \
	  echo "Admin: http://127.0.0.1:$(PORT)/admin/  user $$2  password $$3  (shown once; a new one every make run)" && \
	  echo "       owner of the demo community:  user $$4  password $$5" && \
	  echo "       moderator, sees only the demo community:  user $$6  password $$7" && echo
	@# Ctrl-C, or SIGTERM to make (which passes it on), stops the server and the worker together.
	@exec $(BIN)/python scripts/run_local.py --port $(PORT)

# The tests write bytecode even where PYTHONDONTWRITEBYTECODE is set (__pycache__/, ignored by git):
# the suite starts many Python processes (a worker per core, subprocesses, gunicorn), and each would
# otherwise compile the project again and pytest rewrite every test module's asserts again (4 s each).
TEST_ENV := PYTHONDONTWRITEBYTECODE=

## Install everything and run every test (SQLite by default; DATABASE_URL=postgres://… for PostgreSQL).
test: $(DEV)
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

## Every test but the slow generated (schemathesis) and browser ones.
test-fast: $(DEV)
	$(TEST_ENV) $(BIN)/python -m pytest -m "not schemathesis and not browser" $(PYTEST_ARGS)

## Refresh the admin screenshots (docs/screenshots/, shown in docs/operations.md) by running the browser tests.
screenshots: $(DEV)
	$(TEST_ENV) SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -m browser -q $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

## Regenerate both locks from pyproject.toml (uv, with hashes); keeps current pins where they still fit.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
