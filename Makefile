# Thin wrappers; the README names `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
MEDCODE := $(VENV)/bin/medcode
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_HOME := $(CURDIR)/.cache/test-home

.PHONY: run install codebook migrate serve test test-sqlite test-postgres bench lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,postgres,redis]'
	touch $@

install: $(VENV)/.installed

# axe-core for the browser tests' accessibility checks (skipped, with a message, without npm)
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; else echo "npm not found: axe checks will be skipped"; fi

codebook: install
	$(MEDCODE) data build --if-stale

migrate: install
	$(MEDCODE) manage migrate --noinput

# The site, its background worker (mail, alerts, scheduled checks) and the SMTP gateway on one machine;
# Ctrl+C stops them all. The packaged data is served at once while `data update` fetches the official
# releases in the background (MEDCODE_OFFLINE=1 skips it); the site reopens the codebook when it is rebuilt.
run: codebook migrate
	@trap 'kill 0' INT TERM EXIT; \
	$(MEDCODE) data update --if-online & \
	$(MEDCODE) worker & \
	$(MEDCODE) smtpd & \
	$(MEDCODE) serve --host $(HOST) --port $(PORT)

serve: install
	$(MEDCODE) serve --host $(HOST) --port $(PORT)

# The whole suite on SQLite, then again on PostgreSQL when one is reachable.
test: install node_modules/.package-lock.json
	$(MAKE) test-sqlite
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		$(MAKE) test-postgres; \
	else \
		echo "PostgreSQL not reachable at $(PG_URL): skipped the PostgreSQL run"; \
	fi

test-sqlite: install
	MEDCODE_HOME=$(TEST_HOME) $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	MEDCODE_HOME=$(TEST_HOME) DATABASE_URL=$(PG_URL) $(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

# Each benchmark prints its figures as ratios to a baseline measured in the same run.
# bench/pages.py and the HTTP part of bench/search.py need wrk (Debian: apt-get install wrk).
bench: install
	$(PY) bench/build.py
	$(PY) bench/search.py
	$(PY) bench/search_eval.py
	$(PY) bench/pages.py
	$(PY) bench/edits.py
	$(PY) bench/assistant.py
	$(PY) bench/assistant_eval.py
	$(PY) bench/case2code.py
	$(PY) bench/case2code_eval.py
	$(PY) bench/consult.py

clean:
	rm -rf $(VENV) build .cache .pytest_cache
