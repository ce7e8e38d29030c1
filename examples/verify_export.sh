#!/bin/sh
# verify_export.sh TABLE DIR: checks that the partitions in DIR together hold every row of
# TABLE exactly once (no row lost, none duplicated).
set -eu
table=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tail -n +2 "$table" | LC_ALL=C sort > "$tmp/expected"
cat "$dir"/part-*.csv | LC_ALL=C sort > "$tmp/exported"
rows=$(wc -l < "$tmp/expected")
# The manifest says the export is complete, and counts every row the table holds.
test -e "$dir/_SUCCESS" || { echo "INCOMPLETE: no $dir/_SUCCESS" >&2; exit 1; }
counted=$(sed -n 's/^  "rows": \([0-9]*\),*$/\1/p' "$dir/_SUCCESS")
parts=$(ls "$dir"/part-*.csv | wc -l)
if [ "$counted" = "$rows" ] && cmp -s "$tmp/expected" "$tmp/exported"; then
    echo "verified: $parts partitions hold all $rows rows exactly once"
else
    echo "MISMATCH: the partitions do not hold every row exactly once" >&2
    echo "expected $rows rows, exported $(wc -l < "$tmp/exported"), _SUCCESS counts $counted" >&2
    exit 1
fi
