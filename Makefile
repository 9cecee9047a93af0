# The project's entry points. `make dev` runs the service; `make test` runs the suite (both start
# the local Postgres and Kafka first and wait until each answers a real request; set PJS_DATABASE_URL /
# PJS_KAFKA_BOOTSTRAP to use your own, PJS_LOCAL_*_PORT to move the local ones).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_TOOLS := tools/asyncapi
NODE_STAMP := $(NODE_TOOLS)/node_modules/.installed

.PHONY: install services browser ui-screenshots dev test fuzz lint bench faults faults-quick down

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

# The official AsyncAPI parser (tools/asyncapi), which a test runs on docs/asyncapi.yaml; without npm
# that one test is skipped, saying so.
$(NODE_STAMP): $(NODE_TOOLS)/package.json $(NODE_TOOLS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NODE_TOOLS) --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: the AsyncAPI parser test will be skipped (install Node.js 20+ and npm)"; \
	fi

services: install
	$(BIN)/pjs services up

dev: services
	$(BIN)/pjs dev

# Debian's Chromium and chromedriver for the browser tests (tests/integration/test_ui_browser.py), installed
# only when missing; CI runs as root, elsewhere through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; }

test: services browser
	$(BIN)/pytest

# The browser tests' latest screenshots (.artifacts/ui, or PJS_UI_ARTIFACTS) become the README's images.
ui-screenshots: services browser
	$(BIN)/pytest tests/integration/test_ui_browser.py
	mkdir -p docs/ui && cp $(or $(PJS_UI_ARTIFACTS),.artifacts/ui)/*.png docs/ui/

# The HTTP fuzz test with many more examples per operation than `make test` runs (25).
fuzz: services
	PJS_FUZZ_EXAMPLES=$(or $(EXAMPLES),500) $(BIN)/pytest -s tests/integration/test_api_fuzz.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: services
	$(BIN)/python -m bench $(if $(SCENARIO),--scenario $(SCENARIO),)

# The fault suite starts its own Postgres and Kafka (in .pjs-faults, on ports below 32768), not `services`.
faults: install
	$(BIN)/python -m faults

faults-quick: install
	$(BIN)/python -m faults --quick

down:
	$(BIN)/pjs services down
