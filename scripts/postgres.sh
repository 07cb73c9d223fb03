#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts a throwaway PostgreSQL (Debian's) on 127.0.0.1 and exports
# WIREXA_TEST_POSTGRES_URL; the cluster is stopped and deleted when the calling shell exits.
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pg_dir="$(mktemp -d /tmp/wirexa-pg.XXXXXX)"
chown postgres:postgres "$pg_dir"
pg_port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg_dir -c fsync=off -c max_connections=200" start >/dev/null
stop_postgres() {
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
}
trap stop_postgres EXIT
export WIREXA_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres"
