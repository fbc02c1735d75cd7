#!/usr/bin/env bash
# Installs what tests/test_browser.py needs: the Debian chromium and fonts for Korean text and
# emoji (the screenshot docs/demo.png shows both). Playwright drives this chromium; its own
# browser download is never used. Idempotent: does nothing when everything is present.
set -euo pipefail
PACKAGES=(chromium fonts-nanum fonts-noto-color-emoji)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! command -v apt-get >/dev/null; then
  if [ -x /usr/bin/chromium ]; then exit 0; fi  # not Debian, but a chromium is there
  echo "setup-browser: no apt-get here; install chromium at /usr/bin/chromium yourself" >&2
  exit 1
fi
missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ]; then exit 0; fi
[ ${#missing[@]} -eq 0 ] && missing=(chromium)  # the binary went missing: reinstall it

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "setup-browser: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi
echo "setup-browser: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
