# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: run test install assets migrate seed bench lint lock messages clean chromium

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

assets:
	./scripts/build_assets.sh

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	DEBUG=1 $(PY) manage.py seed_demo

# Serve the shop, back office and admin on http://127.0.0.1:8000 with the worker (and beat) beside
# it, on embedded defaults: SQLite, no Redis. Ctrl-C stops all of it.
run: install assets
	mkdir -p var/celery/broker
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	@echo "Shop: http://127.0.0.1:8000/   Back office: http://127.0.0.1:8000/backoffice/   Admin: http://127.0.0.1:8000/admin/"
	DEBUG=1 PAYMENT_DEV_GATEWAY=1 $(VENV)/bin/honcho start -f Procfile

test: install assets
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (not tests): starts gunicorn and drives it with wrk; see bench/README.md.
bench: install assets
	$(PY) bench/run.py $(BENCH_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run

# Regenerate requirements.lock from pyproject.toml's pins (direct and dev dependencies).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/python -c "import tomllib;d=tomllib.load(open('pyproject.toml','rb'));print('\n'.join(d['project']['dependencies']+d['dependency-groups']['dev']))" > .lock-venv/reqs.txt
	.lock-venv/bin/pip install --quiet -r .lock-venv/reqs.txt
	.lock-venv/bin/pip freeze --exclude pip > requirements.lock
	rm -rf .lock-venv

# Refresh the English catalogue after changing translatable strings (makemessages needs gettext):
# collects every msgid, fills English from locale/en/*.tsv, compiles django.mo (committed).
messages: install
	$(PY) manage.py makemessages -l en --no-location --ignore=.venv --ignore=node_modules --ignore=var --ignore=tests --ignore=bench
	$(PY) scripts/po_fill.py

clean:
	rm -rf var static/vendor node_modules
