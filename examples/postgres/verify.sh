#!/bin/sh
# Checks that the partitions part-0.csv, part-1.csv, … in OUT hold exactly the rows of the
# table TABLE, in id order: same row count, same checksum.
#   examples/postgres/verify.sh TABLE OUT
set -eu
table=$1
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
table_rows=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "select count(*) from $table")
export_rows=$(parts | wc -l | tr -d ' ')
table_sum=$(psql -X -v ON_ERROR_STOP=1 -c "\\copy (select * from $table order by id) to stdout csv" | cksum)
export_sum=$(parts | cksum)
counted=$(manifest_rows)
if [ "$table_rows" != "$export_rows" ] || [ "$table_rows" != "$counted" ] || [ "$table_sum" != "$export_sum" ]; then
    echo "MISMATCH: table $table_rows rows (cksum $table_sum), export $export_rows rows (cksum $export_sum), _SUCCESS $counted rows" >&2
    exit 1
fi
echo "verified: $export_rows rows, cksum $export_sum"
