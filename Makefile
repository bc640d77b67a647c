# Two commands from a fresh clone: `make serve` (the local stack, with samples) and
# `make test` (lint, types, and every test). Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser serve test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(BIN)/imgedge serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian's headless Chromium, for the gallery's browser test (root installs it; CI is root).
browser:
	@[ -x /usr/bin/chromium ] || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: lint browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .imgedge .mypy_cache .ruff_cache .pytest_cache .hypothesis
