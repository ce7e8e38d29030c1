#!/bin/sh
# make_table.sh FILE ROWS: writes a demo table (CSV: id,customer,amount) of ROWS rows,
# unless FILE already holds exactly that many.
set -eu
file=$1 rows=$2
if [ -f "$file" ] && [ "$(($(wc -l < "$file") - 1))" -eq "$rows" ]; then
    echo "$file: already has $rows rows"
    exit 0
fi
mkdir -p "$(dirname "$file")"
awk -v n="$rows" 'BEGIN {
    print "id,customer,amount"
    for (i = 1; i <= n; i++) printf "%d,customer-%d,%d.%02d\n", i, i % 9973, i % 500, i % 100
}' > "$file.tmp"
mv "$file.tmp" "$file"
echo "$file: generated $rows rows"
