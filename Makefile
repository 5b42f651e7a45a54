# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

## Serve the API and admin at http://127.0.0.1:8000 on SQLite, with demo data and a printed token.
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	@TOKEN=$$($(BIN)/python manage.py seed_demo) && \
	  echo && echo "Demo token (shown once): $$TOKEN" && \
	  echo "Try:  curl -s -H 'Authorization: Bearer $$TOKEN' 'http://127.0.0.1:8000/v1/cases?limit=5'" && echo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## Install everything and run every test (SQLite by default; DATABASE_URL=postgres://… for PostgreSQL).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
