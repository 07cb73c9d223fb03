#!/usr/bin/env bash
# Installs what is missing (apt-get, ./.venv), starts a private PostgreSQL on loopback,
# and runs the whole test suite (store and API tests run against SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
source scripts/postgres.sh
.venv/bin/python -m pytest "$@"
