# Papila: the README's two set-up commands are `make up` and `make test`.
#   make install  venvs (.venv Python 3.11, .localstack-venv Python 3.13), npm packages, Debian's Chromium
#   make up       the local cloud in the foreground (SPA :8080, API :8000); Ctrl-C stops it
#   make down     stops a running `make up` from another shell
#   make test     Vitest, then one pytest run: unit, integration (own local cloud), end-to-end
#   make lint     ruff
# Ports: API_PORT SPA_PORT MONGO_PORT LOCALSTACK_PORT (make up); TEST_* the same for `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
TEST_DIRS := $(wildcard tests/unit tests/integration tests/e2e)
PYTEST_ARGS ?=

.PHONY: install up down test lint

install:
	@bash infra/install.sh

up: install
	@$(PY) -m infra.localcloud up

down:
	@if [ -x $(PY) ]; then $(PY) -m infra.localcloud down; fi

test: install
	@if [ -f frontend/package.json ]; then echo "== Vitest (frontend)"; (cd frontend && npm test); fi
	@echo "== pytest: $(TEST_DIRS)"
	@$(PY) -m pytest --timeout=900 $(TEST_DIRS) $(PYTEST_ARGS)

lint: install
	@$(PY) -m ruff check .
