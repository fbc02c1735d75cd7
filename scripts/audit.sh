#!/usr/bin/env bash
# Known-vulnerability audit of the locked dependencies (pip-audit, in its own venv so it
# never mixes with the shop's). --strict: a package that could not be checked is a failure,
# so "no known vulnerabilities" is never claimed for packages nobody looked at.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AUDIT_VENV:-.audit-venv}
[ -x "$venv/bin/pip-audit" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pip-audit; }
exec "$venv/bin/pip-audit" --strict --no-deps --disable-pip -r requirements.lock "$@"
