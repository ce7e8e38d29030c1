#!/bin/sh
# Creates the `skewed` table in the sqlite database DB (default skewed.db) unless it is there:
# 1,000,000 rows whose ids crowd the start of their range, as ids do once most rows are
# recent or most were deleted:
#   - 900,000 rows with ids in [1, 899999], each id twice (90 % of the rows in 10 % of the
#     id range, and duplicates wherever a partition may start);
#   - 99,000 rows spread over the rest of the range, one every 91 ids up to about 10,000,000;
#   - 1,000 rows with no id (NULL), which fall in no id range.
#   examples/sqlite/make_skewed.sh [DB]
set -eu
db=${1:-skewed.db}
if [ -e "$db" ] && [ "$(sqlite3 "$db" "select count(*) from sqlite_master where name = 'skewed'")" = 1 ]; then
    exit 0
fi
sqlite3 "$db" <<'SQL'
create table skewed (id integer, payload text not null);
with recursive n(i) as (select 0 union all select i + 1 from n where i < 999999)
insert into skewed
select case
           when i < 900000 then 1 + (i % 450000) * 2
           when i < 999000 then 1000000 + (i - 900000) * 91
       end,
       'row ' || i
from n;
create index skewed_id on skewed (id);
SQL
echo "$db: $(sqlite3 "$db" 'select count(*) from skewed') rows in \`skewed\`" >&2
