# Two commands from a fresh clone: `make serve` (the local stack, with samples) and
# `make test` (lint, types, and every test). Both install what they need first.
# `make check` is the fast loop: lint, types, unit and property tests (no root, no network
# once installed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser loadtools serve check test lint mutate clean

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

# wrk and nginx, for the load test and its baseline (root installs them; CI is root). Any
# service start is refused meanwhile (policy-rc.d), so nginx never listens on port 80.
loadtools:
	@command -v wrk >/dev/null && [ -x /usr/sbin/nginx ] || { \
	  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && \
	    chmod +x /usr/sbin/policy-rc.d && trap 'rm -f /usr/sbin/policy-rc.d' EXIT; }; \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null; }

check: lint
	$(BIN)/python -m pytest tests/unit tests/property

test: lint browser loadtools
	$(BIN)/python -m pytest

# Mutation testing of the core modules against the fast tests (docs/mutation.md). Not part
# of `make test`: run it when the contract changes. MUTATE_ARGS passes options (`--help`).
mutate: install
	$(BIN)/python -m tools.mutation $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) .imgedge .mypy_cache .ruff_cache .pytest_cache .hypothesis
