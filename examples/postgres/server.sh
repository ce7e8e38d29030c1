#!/bin/sh
# A throwaway PostgreSQL server on localhost, for trying the example and for the tests.
#   eval "$(examples/postgres/server.sh start)"    # starts it; prints the PG* variables to export
#   examples/postgres/server.sh stop
# Data in $BATCHRUN_PG_DIR (default /tmp/batchrun-pg), port $BATCHRUN_PG_PORT (default 54329),
# trust authentication and fsync off: a server for tests, not for data you keep.
set -eu
dir=${BATCHRUN_PG_DIR:-/tmp/batchrun-pg}
port=${BATCHRUN_PG_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
    echo "server.sh: PostgreSQL's server is not installed (apt-get install postgresql)" >&2
    exit 1
fi
# PostgreSQL refuses to run as root: run it as the `postgres` user the package creates.
as=""
[ "$(id -u)" != 0 ] || as="runuser -u postgres --"

case ${1:-} in
start)
    if [ ! -s "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ -z "$as" ] || chown postgres "$dir"
        $as "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >"$dir.initdb.log" 2>&1 ||
            { cat "$dir.initdb.log" >&2; exit 1; }
    fi
    if ! $as "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        $as "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k /tmp -c listen_addresses=localhost -c fsync=off -c synchronous_commit=off" \
            start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    fi
    echo "export PGHOST=localhost PGPORT=$port PGUSER=postgres PGDATABASE=postgres"
    ;;
stop)
    $as "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    ;;
*)
    echo "usage: server.sh start|stop" >&2
    exit 2
    ;;
esac
