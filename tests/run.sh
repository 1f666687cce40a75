#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine, then runs them.
#   bash tests/run.sh             # every test
#   bash tests/run.sh -k flags    # pytest's options pass through
# Installs requirements-dev.txt (which installs this project as an editable package) and, when it
# is missing, Debian's chromium for the browser tests (apt-get, as root or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium: run 'apt-get install -y chromium' as root, then this again." >&2
    exit 1
  fi
fi
exec python -m pytest -q "$@"
