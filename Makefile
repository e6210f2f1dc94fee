# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint install migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	mkdir -p var/broker/out var/broker/processed var/broker/control var/media
	$(BIN)/python manage.py migrate --no-input

run: migrate
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Clinic dashboard: http://127.0.0.1:$(PORT)/  (API docs: http://127.0.0.1:$(PORT)/api/v3/docs/)"
	@echo "  Log in with clinic code 'demo', password 'demo', as dr.lee, dr.patel, frontdesk or admin."
	@echo "  API token for the demo patient: $(BIN)/python manage.py issue_token --account demo --user pat.jones"
	@echo ""
	$(BIN)/honcho start -f Procfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	$(BIN)/pytest

bench: migrate
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var $(VENV)
