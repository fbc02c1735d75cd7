#!/usr/bin/env bash
# Re-resolves the dependencies from pyproject.toml in a scratch venv and writes
# requirements.lock (the exact versions scripts/setup.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$tmp/venv/bin/pip" install -q -e ".[dev]"
{
  echo "# Exact versions the tests and benchmarks ran with (pip constraints; scripts/setup.sh uses it)."
  echo "# Regenerate after changing dependencies: scripts/lock.sh"
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v -i "^smm-chat-shop"
} >requirements.lock
echo "wrote requirements.lock"
