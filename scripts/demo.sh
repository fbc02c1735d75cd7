#!/usr/bin/env bash
# Sets up the shop, then runs the local demo (no Telegram token, no panel account).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m bot demo "$@"
