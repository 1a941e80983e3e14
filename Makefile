# The two commands of the README:
#   make run   set everything up and run the app (SQLite, ORM broker, web + worker) on 127.0.0.1:8000
#   make test  set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEV := DJANGO_DEBUG=1

.PHONY: run test setup system-deps clean

run: setup
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py loaddemo --admin
	$(DEV) $(PY) manage.py serve 127.0.0.1:8000

test: setup system-deps
	$(VENV)/bin/pytest

setup: $(VENV)/.installed static/vendor/sortablejs/Sortable.min.js build/axe/axe.min.js

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

# Front-end packages come from the npm registry and are copied into static/vendor/ (not committed).
static/vendor/sortablejs/Sortable.min.js:
	mkdir -p build/npm static/vendor/sortablejs
	npm install --no-save --no-audit --no-fund --silent --prefix build/npm sortablejs@~1.15.6
	cp build/npm/node_modules/sortablejs/Sortable.min.js build/npm/node_modules/sortablejs/LICENSE static/vendor/sortablejs/

# axe-core, which the accessibility browser test injects into the pages: kept in build/, never served.
build/axe/axe.min.js:
	mkdir -p build/npm build/axe
	npm install --no-save --no-audit --no-fund --silent --prefix build/npm axe-core@~4.10
	cp build/npm/node_modules/axe-core/axe.min.js build/npm/node_modules/axe-core/LICENSE build/axe/

# Servers and the browser the tests drive: Debian's chromium, redis-server and PostgreSQL.
system-deps:
	sh scripts/system-deps.sh

clean:
	rm -rf $(VENV) build static/vendor data .pytest-db.sqlite3* .pytest-cache-dir staticfiles
