#!/usr/bin/env bash
# Sets up everything the tests need, then runs lint and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
scripts/setup-browser.sh  # chromium + fonts for tests/test_browser.py
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Both cores: the tests are independent (own ports, own files); "-n 0" runs them in one process.
.venv/bin/python -m pytest -n auto "$@"
