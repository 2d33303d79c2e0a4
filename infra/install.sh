#!/usr/bin/env bash
# Installs what the project needs and is missing: the dev venv (.venv, Python 3.11), LocalStack's venv
# (.localstack-venv, Python 3.13), the SPA's npm packages, Debian's Chromium for browser tests.
# pip stays as the venv brings it (chalice 1.34 wants pip<26.3).
# Idempotent: each step is skipped while a stamp keyed on its inputs' hash matches.
set -euo pipefail
cd "$(dirname "$0")/.."

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

find_python() {  # find_python 3.11 -> a python3.11 executable that runs (pyenv's versions first: its PATH shims
  local v=$1 p      # fail for versions that are installed but not selected)
  for p in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -V -r) \
           $(command -v "python$v" 2>/dev/null || true); do
    if "$p" -c 'pass' >/dev/null 2>&1; then echo "$p"; return; fi
  done
  echo "install: Python $v not found (install it beside the system Python, e.g. with pyenv)" >&2
  exit 1
}

# --- .venv: the project, both functions' dependencies, test and lint tools
stamp=.venv/.papila-stamp
want=$(hash_of requirements.txt api_app/requirements.txt inference_fn/requirements.txt layers/pyproject.toml)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install: .venv (Python 3.11) from requirements.txt"
  [ -x .venv/bin/python ] || "$(find_python 3.11)" -m venv .venv
  .venv/bin/python -m pip install --quiet -r requirements.txt
  echo "$want" > "$stamp"
fi

# --- .localstack-venv: LocalStack pins its own boto3/botocore, so it lives apart
stamp=.localstack-venv/.papila-stamp
want=$(hash_of infra/localstack-requirements.txt)
if [ ! -x .localstack-venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install: .localstack-venv (Python 3.13) from infra/localstack-requirements.txt"
  [ -x .localstack-venv/bin/python ] || "$(find_python 3.13)" -m venv .localstack-venv
  .localstack-venv/bin/python -m pip install --quiet -r infra/localstack-requirements.txt
  echo "$want" > "$stamp"
fi

# --- the SPA's packages (only once the SPA exists)
if [ -f frontend/package.json ]; then
  stamp=frontend/node_modules/.papila-stamp
  want=$(hash_of frontend/package.json frontend/package-lock.json)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "install: frontend npm packages (npm ci)"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
fi

# --- Chromium for the browser tests (Playwright drives it; never `playwright install`)
if [ ! -x /usr/bin/chromium ]; then
  echo "install: chromium (Debian)"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium >/dev/null
fi
