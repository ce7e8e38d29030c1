#!/bin/sh
# Creates the `skewed` table in the database the PG* variables name unless it is there:
# 1,000,000 rows whose ids crowd the start of their range, as ids do once most rows are
# recent or most were deleted:
#   - 900,000 rows with ids in [1, 899999], each id twice (90 % of the rows in 10 % of the
#     id range, and duplicates wherever a partition may start);
#   - 99,000 rows spread over the rest of the range, one every 91 ids up to about 10,000,000;
#   - 1,000 rows with no id (NULL), which fall in no id range.
#   examples/postgres/make_skewed.sh
set -eu
if [ "$(psql -X -A -t -v ON_ERROR_STOP=1 -c "select to_regclass('skewed') is not null")" = t ]; then
    exit 0
fi
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
create table skewed (id bigint, payload text not null);
insert into skewed
select case
           when i < 900000 then 1 + (i % 450000) * 2
           when i < 999000 then 1000000 + (i - 900000) * 91
       end,
       'row ' || i
from generate_series(0, 999999) as i;
create index skewed_id on skewed (id);
analyze skewed;
SQL
echo "skewed: $(psql -X -A -t -c 'select count(*) from skewed') rows" >&2
