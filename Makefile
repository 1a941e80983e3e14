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

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

# Servers and the browser the tests drive: Debian's chromium, redis-server and PostgreSQL.
system-deps:
	sh scripts/system-deps.sh

clean:
	rm -rf $(VENV) data .pytest-db.sqlite3* .pytest-cache-dir staticfiles
