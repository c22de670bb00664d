#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster on loopback and print its URL, e.g.
#   export DEXEC_TEST_POSTGRES_URL=$(crates/market/scripts/pg-test.sh)
#   cargo test -p dexec-market
# Stop it with: crates/market/scripts/pg-test.sh stop <dir printed on stderr>
# Works as root (runs the server as the `postgres` user) or as any other user.
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

if [[ "${1:-}" == stop ]]; then
    dir=${2:?usage: pg-test.sh stop <dir>}
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    else "$BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null; fi
    rm -rf "$dir"
    exit 0
fi

dir=$(mktemp -d /tmp/dexec-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [[ $(id -u) == 0 ]]; then chown postgres "$dir"; fi
as_pg "$BIN/initdb" -D "$dir/data" --username=dexec --auth=trust --encoding=UTF8 >/dev/null
as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" \
    start >/dev/null
echo "started PostgreSQL in $dir (stop: $0 stop $dir)" >&2
echo "postgres://dexec@127.0.0.1:$port/postgres"
