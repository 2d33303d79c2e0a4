# Papila: the README's two set-up commands are `make up` and `make test`.
#   make install  venvs (.venv Python 3.11, .localstack-venv Python 3.13), npm packages, Debian's Chromium
#   make up       the local cloud in the foreground (SPA :8080, API :8000); Ctrl-C stops it
#   make down     stops a running `make up` from another shell
#   make test     import contracts, Vitest, then one pytest run: unit, integration (own local cloud), end-to-end
#   make lint     ruff and the import contracts
#   make audit    pip-audit (each function's requirements, .venv, .localstack-venv) and npm audit (frontend,
#                 dependencies and devDependencies, fails at high): needs the advisory services to answer
# Ports: API_PORT SPA_PORT MONGO_PORT LOCALSTACK_PORT (make up); TEST_* the same for `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
TEST_DIRS := $(wildcard tests/unit tests/integration tests/e2e)
PYTEST_ARGS ?=

AUDIT_REQS := $(wildcard api_app/requirements.txt inference_fn/requirements.txt sweep_fn/requirements.txt \
                          purge_fn/requirements.txt signup_fn/requirements.txt)
# --strict: a package the advisory service does not answer for fails the audit (never "no known vulnerabilities")
PIP_AUDIT := .venv/bin/pip-audit --strict --progress-spinner off

.PHONY: install up down test lint audit

install:
	@bash infra/install.sh

up: install
	@$(PY) -m infra.localcloud up

down:
	@if [ -x $(PY) ]; then $(PY) -m infra.localcloud down; fi

test: install
	@echo "== import contracts (.importlinter)"; .venv/bin/lint-imports --no-cache
	@if [ -f frontend/package.json ]; then echo "== Vitest (frontend)"; (cd frontend && npm test); fi
	@echo "== pytest: $(TEST_DIRS)"
	@$(PY) -m pytest --timeout=900 $(TEST_DIRS) $(PYTEST_ARGS)

lint: install
	@$(PY) -m ruff check .
	@.venv/bin/lint-imports --no-cache

audit: install
	@fail=0; start=$$SECONDS; \
	for req in $(AUDIT_REQS); do \
	  echo "== pip-audit -r $$req (resolved as the function ships it)"; \
	  $(PIP_AUDIT) -r $$req || fail=1; \
	done; \
	echo "== pip-audit: .venv (requirements.txt as installed, the papila layer itself skipped)"; \
	$(PIP_AUDIT) --skip-editable || fail=1; \
	echo "== pip-audit: .localstack-venv (infra/localstack-requirements.txt as installed)"; \
	$(PIP_AUDIT) $$(for d in .localstack-venv/lib/python3*/site-packages; do echo --path $$d; done) || fail=1; \
	if [ -f frontend/package-lock.json ]; then \
	  echo "== npm audit --audit-level=high (frontend: dependencies and devDependencies)"; \
	  (cd frontend && npm audit --audit-level=high) || fail=1; \
	fi; \
	echo "== audit: $$([ $$fail = 0 ] && echo passed || echo FAILED) in $$((SECONDS - start)) s"; \
	[ $$fail = 0 ] || echo "   (pip-audit's 'not found on PyPI' for every package, or npm's 'audit endpoint returned an error':" \
	  "the advisory service did not answer from this machine; nothing was audited there)"; \
	exit $$fail
