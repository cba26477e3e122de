# relaydash — `make run` serves the app, `make test` runs every test (see README).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run demo test fuzz install lint format i18n-extract i18n-update clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(d['dependencies']))" > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.txt
	touch $@

# The tests also run on PostgreSQL with Redis (RELAYDASH_TEST_DATABASE_URL, .ci/run): their drivers too.
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print('\n'.join(d['test'] + d['postgres'] + d['redis']))" > $(VENV)/requirements-test.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-test.txt
	touch $@

# The app's dependencies and, for production, extras from pyproject.toml: EXTRAS="postgres redis".
install: $(STAMP) $(CATALOGS)
	$(BIN)/python -c "import sys, tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print('\n'.join(r for extra in sys.argv[1:] for r in d[extra]))" $(EXTRAS) > $(VENV)/requirements-extras.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-extras.txt

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ -l $(word 2,$(subst /, ,$<)) >/dev/null

run: $(STAMP) $(CATALOGS)
	$(BIN)/flask --app app setup
	RELAYDASH_SCHEDULER_ENABLED=true RELAYDASH_SESSION_COOKIE_SECURE=false $(BIN)/flask --app app run --host $(HOST) --port $(PORT)

# A throw-away instance in a temp folder, filled from a local demo relay (README "Try it without a
# key"); Ctrl-C removes it. The loader's instance is a temp folder too, so instance/ stays untouched.
demo: $(STAMP) $(CATALOGS)
	@boot=$$(mktemp -d); trap 'rm -rf "$$boot"' EXIT INT TERM; \
	RELAYDASH_INSTANCE="$$boot" $(BIN)/flask --app app demo --host $(HOST) --port $(PORT)

test: $(TEST_STAMP) $(CATALOGS)
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo ""; \
	  echo "!!! /usr/bin/chromium is missing: the browser tests will be SKIPPED."; \
	  echo "!!! Install it with: apt-get install -y chromium"; \
	  echo ""; \
	fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# schemathesis against a served throwaway instance: the API's OpenAPI document and every page a
# guest can reach; fails on any 5xx (about a minute; FUZZ_ARGS="--max-examples 500" digs deeper).
fuzz: $(TEST_STAMP) $(CATALOGS)
	$(BIN)/python -m tests.fuzz $(FUZZ_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

i18n-extract: $(STAMP)
	$(BIN)/pybabel extract -F translations/babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o translations/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV)
