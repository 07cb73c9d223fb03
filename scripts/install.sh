#!/usr/bin/env bash
# Installs what Wirexa needs on Debian 12 (run as root): system packages with apt-get,
# Python packages into ./.venv. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROLE="${1:-run}"   # run | test

apt_packages=(python3 python3-venv python3-dev espeak-ng sox)
if [ "$ROLE" = test ]; then
    apt_packages+=(postgresql sip-tester baresip wrk)
fi
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
extras=""
[ "$ROLE" = test ] && extras="[test]"
stamp=".venv/.installed-$ROLE-$(cat pyproject.toml sdk/pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -e ".$extras"
    # The tests also drive the wirexaapi SDK (sdk/, its own distribution).
    [ "$ROLE" = test ] && .venv/bin/pip install -q --disable-pip-version-check -e sdk
    touch "$stamp"
fi
# The classic SignalWire SDK pins twilio 6.54.0, so the tests run it from a venv of its own.
if [ "$ROLE" = test ] && [ ! -x .venv-classic/bin/python ]; then
    python3 -m venv .venv-classic
    .venv-classic/bin/pip install -q --disable-pip-version-check "signalwire==2.1.1"
fi
