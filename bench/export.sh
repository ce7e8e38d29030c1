#!/usr/bin/env bash
# bench/export.sh: the skewed table (examples/*/make_skewed.sh, 1,000,000 rows) exported
# three ways, at -j 2, each verified, runs interleaved so that load drift hits each alike:
#   - `equal`:    examples/<db>/skewed.yaml --only equal (8 equal-width id ranges);
#   - `balanced`: examples/<db>/skewed.yaml --only balanced (8 ranges from `ntile`);
#   - `one`:      the whole table in one command (`psql \copy`, `sqlite3 -csv`), then its
#                 lines counted against `count(*)`.
# Prints the median wall time of each, of the bounds query alone, and of bounds from a tenth of
# the rows (`sampled`: SQLite's every tenth rowid, PostgreSQL's `tablesample bernoulli (10)`),
# the first and last bound still the true minimum and maximum.
#
#   eval "$(examples/postgres/server.sh start)"   # for postgres
#   bench/export.sh                               # both databases, REPS (default 5) each
#   DBS=sqlite REPS=9 bench/export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
DBS=${DBS:-"sqlite postgres"}
cargo build --release --quiet
B=$PWD/target/release/batchrun
W=$(mktemp -d "${TMPDIR:-/tmp}/batchrun-export.XXXXXX")
trap 'rm -rf "$W"' EXIT

ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
sampled_sql() {
    echo "select min(id) from (select id, ntile(8) over (order by id) as b from $1 where id is not null $2) t
        group by b having b > 1 union select min(id) from skewed union select max(id) from skewed order by 1"
}
BOUNDS='select min(id) from (select id, ntile(8) over (order by id) as b from skewed where id is not null) t group by b union select max(id) from skewed order by 1'

echo "# export benchmark, $(date -u +%Y-%m-%dT%H:%MZ), median of $REPS, -j 2"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for db in $DBS; do
    case $db in
    sqlite)
        file=$W/skewed.db
        examples/sqlite/make_skewed.sh "$file"
        set_db=(--set "db=$file")
        one() { sqlite3 -csv "$file" 'select id, payload from skewed' > "$W/one.csv" &&
            test "$(wc -l < "$W/one.csv")" -eq "$(sqlite3 "$file" 'select count(*) from skewed')"; }
        bounds() { sqlite3 "$file" "$BOUNDS" > /dev/null; }
        sampled() { sqlite3 "$file" "$(sampled_sql 'skewed' 'and rowid % 10 = 0')" > /dev/null; }
        ;;
    postgres)
        examples/postgres/make_skewed.sh
        set_db=()
        one() { psql -X -v ON_ERROR_STOP=1 -c '\copy (select id, payload from skewed) to stdout csv' > "$W/one.csv" &&
            test "$(wc -l < "$W/one.csv")" -eq "$(psql -X -A -t -c 'select count(*) from skewed')"; }
        bounds() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$BOUNDS" > /dev/null; }
        sampled() {
            psql -X -A -t -v ON_ERROR_STOP=1 -c "$(sampled_sql 'skewed tablesample bernoulli (10) repeatable (1)' '')" > /dev/null
        }
        ;;
    esac
    : > "$W/times"
    for _ in $(seq "$REPS"); do
        for way in equal balanced; do
            t=$(ms)
            "$B" "examples/$db/skewed.yaml" --only "$way" -j 2 --progress none "${set_db[@]}" \
                --set "out=$W/out" --state-dir "$W/state-$db" 2> "$W/log" || { cat "$W/log" >&2; exit 1; }
            echo "$way $(($(ms) - t))" >> "$W/times"
        done
        t=$(ms); one; echo "one $(($(ms) - t))" >> "$W/times"
        t=$(ms); bounds; echo "bounds $(($(ms) - t))" >> "$W/times"
        t=$(ms); sampled; echo "sampled $(($(ms) - t))" >> "$W/times"
    done
    for way in equal balanced one bounds sampled; do
        printf '%-9s %-9s %6s ms\n' "$db" "$way" "$(awk -v w="$way" '$1 == w { print $2 }' "$W/times" | median)"
    done
done
