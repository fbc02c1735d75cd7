#!/usr/bin/env bash
# Creates .venv (if needed) and installs the shop. Idempotent and quick when nothing changed.
#   scripts/setup.sh       runtime only (the demo)
#   scripts/setup.sh dev   plus the dev tools: pytest, ruff, playwright (the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRA=${1:-}
SPEC=.
[ -n "$EXTRA" ] && SPEC=".[$EXTRA]"
# Playwright's pip wheel downloads no browser; this guards against any hook that would.
# The tests use the Debian chromium (scripts/setup-browser.sh).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Editable install: code changes need no reinstall, only pyproject.toml changes do.
STAMP=".venv/.installed-${EXTRA:-runtime}"
DIGEST=$(cat pyproject.toml requirements.lock | cksum)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$DIGEST" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
# requirements.lock pins every version the suite was run with.
.venv/bin/python -m pip install -q -c requirements.lock -e "$SPEC"
echo "$DIGEST" >"$STAMP"
