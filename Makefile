# The two commands of the README: `make app` and `make test`. Everything else is their set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
BLUEBOT := $(VENV)/bin/bluebot
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED = False
export ANONYMIZED_TELEMETRY = False

.PHONY: app test lint bench browser-deps models

app: models
	$(PY) app.py

test: models browser-deps
	$(VENV)/bin/ruff check src tests app.py benchmarks
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests app.py benchmarks

bench: models
	$(PY) benchmarks/retrieval.py

# the venv: torch pinned to the CPU build first (an unpinned torch pulls a multi-GB CUDA build)
$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# models into ~/.cache/bluebot/models (verified digests), then the index; quick when all is there
models: $(STAMP)
	$(BLUEBOT) setup

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`)
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver)
