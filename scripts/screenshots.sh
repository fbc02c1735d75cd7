#!/usr/bin/env bash
# Refreshes the screenshots the README shows (docs/*.png) by running the browser tests with
# SHOP_DOCS_SCREENSHOTS=1; an ordinary test run saves its screenshots in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
scripts/setup-browser.sh
SHOP_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest -q -p no:cacheprovider -k "browser" "$@"
git status --short docs/
