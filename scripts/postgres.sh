#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests (Debian's postgresql package).
#
#   scripts/postgres.sh start   # prints the URL (postgres://dexec@127.0.0.1:<port>/dexec)
#   scripts/postgres.sh stop
#   scripts/postgres.sh socket-url  # the same server through its Unix socket, which a process
#                                   # in another network namespace reaches (make chaos)
#
# The cluster lives in /tmp/dexec-postgres-<checkout hash> (trust auth, loopback only, a free
# port): outside the checkout, which the `postgres` user (who runs the server when we are
# root) may not be allowed to enter. Installs the package when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${TMPDIR:-/tmp}/dexec-postgres-$(printf %s "$ROOT" | md5sum | cut -c1-8)"
DATA="$DIR/data"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
	if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
		local sudo=()
		[ "$(id -u)" -ne 0 ] && sudo=(sudo)
		echo "postgres.sh: installing postgresql" >&2
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >&2
		BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
	fi
}

case "${1:-}" in
start)
	install
	if [ -f "$DIR/url" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		cat "$DIR/url"
		exit 0
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
	as_pg "$BIN/initdb" -D "$DATA" -U dexec --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1
	PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
	as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w \
		-o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" start >&2
	as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U dexec dexec
	echo "postgres://dexec@127.0.0.1:$PORT/dexec" | tee "$DIR/url"
	;;
stop)
	if [ -n "$BIN" ] && [ -d "$DATA" ]; then
		as_pg "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
	fi
	;;
socket-url)
	[ -f "$DIR/url" ] || { echo "postgres.sh: not started (scripts/postgres.sh start)" >&2; exit 1; }
	sed -E "s#@127\.0\.0\.1:([0-9]+)/(.*)#@localhost:\1/\2?host=$DIR#" "$DIR/url"
	;;
*)
	echo "usage: $0 start|stop|socket-url" >&2
	exit 2
	;;
esac
