#!/bin/sh
# Checks that the partitions part-0.csv, part-1.csv, … in OUT hold exactly the rows of the
# `orders` table of the sqlite database DB, in id order: same row count, same checksum.
#   examples/sqlite/verify.sh DB OUT
set -eu
db=$1
out=$2
parts() {
    i=0
    while [ -e "$out/part-$i.csv" ]; do
        cat "$out/part-$i.csv"
        i=$((i + 1))
    done
}
# The manifest says the export is complete, and counts every row the table holds.
manifest_rows() {
    test -e "$out/_SUCCESS" || { echo "INCOMPLETE: no $out/_SUCCESS" >&2; exit 1; }
    sed -n 's/^  "rows": \([0-9]*\),*$/\1/p' "$out/_SUCCESS"
}
table_rows=$(sqlite3 "$db" 'select count(*) from orders')
export_rows=$(parts | wc -l | tr -d ' ')
table_sum=$(sqlite3 -csv "$db" 'select * from orders order by id' | cksum)
export_sum=$(parts | cksum)
counted=$(manifest_rows)
if [ "$table_rows" != "$export_rows" ] || [ "$table_rows" != "$counted" ] || [ "$table_sum" != "$export_sum" ]; then
    echo "MISMATCH: table $table_rows rows (cksum $table_sum), export $export_rows rows (cksum $export_sum), _SUCCESS $counted rows" >&2
    exit 1
fi
echo "verified: $export_rows rows, cksum $export_sum"
