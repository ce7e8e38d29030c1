#!/bin/sh
# export_table.sh START END: prints the rows of $TABLE (a CSV with a header and an id in the
# first column) whose id is in [START, END]. A stand-in for a real export such as
#   psql -c "\copy (select * from orders where id between $1 and $2) to stdout csv"
set -eu
start=$1 end=$2
: "${TABLE:?set TABLE to the CSV file to export}"
awk -F, -v s="$start" -v e="$end" 'NR > 1 && $1 >= s && $1 <= e' "$TABLE"
