#!/bin/sh
# check_skewed.sh OUT DUMP-COMMAND…: for each export of the `skewed` table in OUT (equal,
# balanced), checks that its partitions hold every row the dump command prints exactly once
# (no row lost, none twice: sorted, the two are the same bytes), that its manifest counts them
# all, and prints its spread: the largest partition's rows over the mean.
set -eu
out=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$@" | LC_ALL=C sort > "$tmp/table"
rows=$(wc -l < "$tmp/table" | tr -d ' ')
status=0
for way in equal balanced; do
    dir=$out/$way
    test -e "$dir/_SUCCESS" || { echo "INCOMPLETE: no $dir/_SUCCESS" >&2; exit 1; }
    cat "$dir"/part-*.csv | LC_ALL=C sort > "$tmp/$way"
    counted=$(sed -n 's/^  "rows": \([0-9]*\),*$/\1/p' "$dir/_SUCCESS")
    # Each product's rows, as its verify counted them: the manifest's entries.
    spread=$(sed -n 's/^      "rows": \([0-9]*\)$/\1/p' "$dir/_SUCCESS" |
        awk '{ n++; sum += $1; if ($1 > max) max = $1 } END { printf "%.2f", max / (sum / n) }')
    if [ "$counted" = "$rows" ] && cmp -s "$tmp/table" "$tmp/$way"; then
        echo "$way: every one of $rows rows exactly once; spread $spread"
    else
        echo "MISMATCH: $way: the table has $rows rows, the partitions $(wc -l < "$tmp/$way"), _SUCCESS counts $counted" >&2
        status=1
    fi
done
exit $status
