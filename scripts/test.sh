#!/usr/bin/env bash
# Run cardex's whole test suite on a fresh machine: create .venv, install
# cardex with its test extras, install Debian's PostgreSQL server when it is
# missing (the tests start their own throwaway server on 127.0.0.1), and run
# pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian's postgresql package for the SQL connector tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is not installed; tests marked 'postgres' will be skipped" \
      "(install it with: sudo apt-get install postgresql)" >&2
  fi
fi

# Optional: Chromium renders the HTML audit report for the screenshot test
# (marked slow); without it that one test is skipped.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian's chromium package for the HTML report screenshot test" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is not installed; the HTML report screenshot test will be" \
      "skipped (install it with: sudo apt-get install chromium)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all,dev]'
exec .venv/bin/python -m pytest "$@"
