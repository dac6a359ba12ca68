# The two commands of the README:
#   make app    runtime only: the venv, the models, the index, then the chat on http://127.0.0.1:7860
#   make test   the same plus the test tools (the `dev` extra), the small test model and Chromium, then every test
VENV ?= .venv
PY := $(VENV)/bin/python
BLUEBOT := $(VENV)/bin/bluebot
# stamps: the runtime dependencies are installed; the dev extra is installed on top
APP_STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED = False
export ANONYMIZED_TELEMETRY = False

# Python 3.11 creates the venv: python3.11, else python3 when it is 3.11 (override: make app PYTHON=/path/to/python)
PYTHON ?= $(shell command -v python3.11 2>/dev/null || \
  (python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && command -v python3))

# llama-cpp-python (dev extra, for the tests' OpenAI-compatible server) is source-only on PyPI. Its native
# build crashed with "illegal instruction" on a VM that refuses the AMX tiles it enabled, so the instruction
# sets are named, each ON only when this CPU's /proc/cpuinfo lists it (an AVX-512 build dies with SIGILL on an
# AVX2-only CPU). Override with make test LLAMA_CMAKE_ARGS=...
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
cpu_has = $(if $(filter $(1),$(CPU_FLAGS)),ON,OFF)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=$(call cpu_has,avx) -DGGML_AVX2=$(call cpu_has,avx2) \
  -DGGML_FMA=$(call cpu_has,fma) -DGGML_F16C=$(call cpu_has,f16c) -DGGML_BMI2=$(call cpu_has,bmi2) \
  -DGGML_AVX512=$(call cpu_has,avx512f) -DGGML_AVX512_VNNI=$(call cpu_has,avx512_vnni) \
  -DGGML_AVX512_BF16=$(call cpu_has,avx512_bf16)

.PHONY: app test lint bench models small-model browser-deps

app: models
	$(PY) app.py

test: $(DEV_STAMP) models small-model browser-deps
	$(VENV)/bin/ruff check src tests app.py benchmarks eval
	$(VENV)/bin/pytest

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests app.py benchmarks eval

bench: models
	$(PY) benchmarks/retrieval.py

# the venv itself; stops at once when there is no Python 3.11
$(PY):
	@test -n "$(PYTHON)" || { echo "bluebot needs Python 3.11: install python3.11 (with its venv module), then run make again" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# runtime dependencies: torch pinned to the CPU build first (an unpinned torch pulls a multi-GB CUDA build),
# then bluebot at the versions of requirements.lock; wheels only, no compiler
$(APP_STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c requirements.lock -e .
	touch $(APP_STAMP)

# the test tools on top: llama-cpp-python[server] built from source for this CPU (about 4 minutes; never pip's
# cached wheel, which may have been built for another CPU), then pytest, ruff and Playwright
$(DEV_STAMP): $(APP_STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q --no-cache-dir -c requirements.lock 'llama-cpp-python[server]'
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(DEV_STAMP)

# models into ~/.cache/bluebot/models (verified digests), then the index; quick when all is there
models: $(APP_STAMP)
	$(BLUEBOT) setup

# the 0.5B model's GGUF for the tests that start llama-cpp-python's OpenAI-compatible server (tests/servers.py)
small-model: $(APP_STAMP)
	BLUEBOT_LLM_MODEL=qwen2.5-coder-0.5b-instruct $(BLUEBOT) setup --no-ingest

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`), and a CJK
# font so that the screenshots show Chinese rather than empty boxes
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list :lang=zh | grep -q . || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei)
