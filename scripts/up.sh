#!/usr/bin/env bash
# Installs what is missing, then runs Wirexa with embedded defaults (SQLite in ./wirexa-data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh run
exec .venv/bin/wirexa up "$@"
