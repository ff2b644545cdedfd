#!/usr/bin/env bash
# pg_harness.sh — a throwaway PostgreSQL 15 on 127.0.0.1 for tests.
#
#   pg_harness.sh run CMD [ARGS...]    start a server, run CMD with FP_TEST_PG_URL set, stop
#                                      the server (trap: also on failure or signal)
#   pg_harness.sh start STATEFILE      start a server and record it in STATEFILE (CTest
#                                      fixture setup); prints the URL
#   pg_harness.sh with STATEFILE CMD.. run CMD against the recorded server, in a fresh
#                                      database of its own (created before, dropped after), so
#                                      tests sharing one server under ctest -j do not collide;
#                                      if STATEFILE is missing, behaves like `run`
#   pg_harness.sh stop STATEFILE       stop the recorded server and remove its directory
#   pg_harness.sh down|up STATEFILE    stop / start the recorded server, keeping its data and
#                                      port (fault tests: the DB goes away and comes back)
#
# The server: initdb into a temp dir (trust auth, user postgres), listening only on
# 127.0.0.1 at a free port, its socket in the temp dir. initdb/pg_ctl refuse to run as root,
# so as root they run as the `postgres` user (Debian's postgresql-common creates it).
# FP_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/DB. Exit status: CMD's, or 77 (skip)
# when no PostgreSQL server binaries are installed.
set -euo pipefail

PG_BIN="${PG_BIN:-}"
if [[ -z "$PG_BIN" ]]; then
  for v in 15 16 17 14; do
    if [[ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]]; then PG_BIN="/usr/lib/postgresql/$v/bin"; break; fi
  done
fi

die() { echo "pg_harness: $*" >&2; exit 1; }

as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

server_up() { # dir port
  as_pg "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $2 -c unix_socket_directories=$1 -c fsync=off -c max_connections=200" \
    start >/dev/null 2>&1
}

# start_server -> sets PGH_DIR PGH_PORT
start_server() {
  [[ -n "$PG_BIN" ]] || { echo "pg_harness: SKIP: no PostgreSQL server (install postgresql-15)" >&2; exit 77; }
  PGH_DIR="$(mktemp -d /tmp/fp-pg.XXXXXX)"
  chmod 700 "$PGH_DIR"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
    chown postgres: "$PGH_DIR"
  fi
  as_pg "$PG_BIN/initdb" -D "$PGH_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PGH_DIR/initdb.log" 2>&1 || { cat "$PGH_DIR/initdb.log" >&2; die "initdb failed"; }
  local tries=0
  while :; do
    PGH_PORT="$(free_port)"
    if server_up "$PGH_DIR" "$PGH_PORT"; then break; fi
    tries=$((tries + 1))
    if ((tries >= 3)); then cat "$PGH_DIR/server.log" >&2 || true; die "pg_ctl start failed"; fi
  done
}

stop_server() {
  local dir="$1"
  [[ -n "$dir" && -d "$dir" ]] || return 0
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 10 stop >/dev/null 2>&1 ||
      as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

psql_admin() { # port sql
  psql -X -q -v ON_ERROR_STOP=1 "postgresql://postgres@127.0.0.1:$1/postgres" -c "$2" >/dev/null
}

cmd="${1:-}"
[[ -n "$cmd" ]] || die "usage: pg_harness.sh run|start|with|stop ..."
shift

case "$cmd" in
  run)
    [[ $# -ge 1 ]] || die "run: no command"
    PGH_DIR=""
    trap 'stop_server "$PGH_DIR"' EXIT
    trap 'exit 130' INT TERM
    start_server
    export FP_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PGH_PORT/postgres"
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc
    ;;
  start)
    state="${1:?start: no state file}"
    PGH_DIR=""
    trap 'stop_server "$PGH_DIR"' ERR INT TERM
    start_server
    printf 'PGH_DIR=%q\nPGH_PORT=%q\n' "$PGH_DIR" "$PGH_PORT" >"$state"
    echo "postgresql://postgres@127.0.0.1:$PGH_PORT/postgres"
    ;;
  with)
    state="${1:?with: no state file}"
    shift
    [[ $# -ge 1 ]] || die "with: no command"
    if [[ ! -f "$state" ]]; then exec "$0" run "$@"; fi
    # shellcheck disable=SC1090
    source "$state"
    db="fp_t_$$_${RANDOM}"
    psql_admin "$PGH_PORT" "CREATE DATABASE $db"
    trap 'psql_admin "$PGH_PORT" "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true' EXIT
    export FP_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PGH_PORT/$db"
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc
    ;;
  stop)
    state="${1:?stop: no state file}"
    [[ -f "$state" ]] || exit 0
    # shellcheck disable=SC1090
    source "$state"
    stop_server "$PGH_DIR"
    rm -f "$state"
    ;;
  down | up)
    state="${1:?$cmd: no state file}"
    # shellcheck disable=SC1090
    source "$state"
    if [[ "$cmd" == down ]]; then
      as_pg "$PG_BIN/pg_ctl" -D "$PGH_DIR/data" -m fast -w -t 10 stop >/dev/null
    else
      server_up "$PGH_DIR" "$PGH_PORT" || die "restart failed"
    fi
    ;;
  *) die "unknown command '$cmd'" ;;
esac
