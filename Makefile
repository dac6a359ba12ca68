# The two commands of the README: `make app` and `make test`. Everything else is their set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
BLUEBOT := $(VENV)/bin/bluebot
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED = False
export ANONYMIZED_TELEMETRY = False

.PHONY: app test lint bench browser-deps models small-model

app: models
	$(PY) app.py

test: models small-model browser-deps
	$(VENV)/bin/ruff check src tests app.py benchmarks eval
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests app.py benchmarks eval

bench: models
	$(PY) benchmarks/retrieval.py

# llama-cpp-python builds from source; its default native build crashes here with "illegal instruction"
# (it enables AMX tiles the VM refuses), so the instruction sets are named (shared/MODELS.md)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON

# the venv: torch pinned to the CPU build first (an unpinned torch pulls a multi-GB CUDA build)
$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# models into ~/.cache/bluebot/models (verified digests), then the index; quick when all is there
models: $(STAMP)
	$(BLUEBOT) setup

# the 0.5B model's GGUF for the tests that start llama-cpp-python's OpenAI-compatible server (tests/servers.py)
small-model: $(STAMP)
	BLUEBOT_LLM_MODEL=qwen2.5-coder-0.5b-instruct $(BLUEBOT) setup --no-ingest

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`), and a CJK
# font so that the screenshots show Chinese rather than empty boxes
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list :lang=zh | grep -q . || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei)
