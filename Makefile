# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# What supervisord.conf reads (make web overrides START_BACKGROUND).
PORT ?= 8000
HOST ?= 127.0.0.1
WEB_CONCURRENCY ?= 2
WORKER_CONCURRENCY ?= 2
DJANGO_VAR_DIR ?= $(CURDIR)/var
VENV_BIN := $(CURDIR)/$(BIN)
START_BACKGROUND := true
export PORT HOST WEB_CONCURRENCY WORKER_CONCURRENCY DJANGO_VAR_DIR VENV_BIN START_BACKGROUND

.PHONY: run web dev test lint install migrate static bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	mkdir -p $(DJANGO_VAR_DIR)/broker/out $(DJANGO_VAR_DIR)/broker/processed \
		$(DJANGO_VAR_DIR)/broker/control $(DJANGO_VAR_DIR)/media
	$(BIN)/python manage.py migrate --no-input

# Production (DJANGO_ENV=production, from the environment or .env) serves hashed, compressed copies
# from STATIC_ROOT: collected again when a static file or the installed packages changed since.
static: install
	@root=$$($(BIN)/python -c 'from clinic.settings import STATIC_ROOT; print(STATIC_ROOT or "")'); \
	if [ -n "$$root" ] && { [ ! -f "$$root/staticfiles.json" ] || \
	    [ -n "$$(find static $(VENV)/.installed -newer "$$root/staticfiles.json" | head -1)" ]; }; then \
	  echo "Collecting static files into $$root"; $(BIN)/python manage.py collectstatic --no-input -v 0; \
	fi

# web (uvicorn) + Celery workers (periodic; everything else) + beat, restarted if they die.
run: migrate static
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Clinic dashboard: http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v3/docs/)"
	@echo "  Log in with clinic code 'demo', password 'demo', as dr.lee, dr.patel, frontdesk or admin."
	@echo "  API token for the demo patient: $(BIN)/python manage.py issue_token --account demo --user pat.jones"
	@echo ""
	$(BIN)/supervisord -c supervisord.conf

# One more web node on PORT, against the same DATABASE_URL and broker: no worker, no beat.
web: START_BACKGROUND := false
web: migrate static
	$(BIN)/supervisord -c supervisord.conf

# Development only: Django's runserver, reloading on code changes (no worker, no beat).
dev: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	$(BIN)/pytest

bench: migrate
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var $(VENV)
