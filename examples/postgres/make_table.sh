#!/bin/sh
# Creates the `orders` table of ROWS rows (default 1,000,000) in the database the PG*
# variables name, replacing any earlier one.
#   examples/postgres/make_table.sh [ROWS]
set -eu
rows=${1:-1000000}
psql -X -q -v ON_ERROR_STOP=1 <<SQL
drop table if exists orders;
create table orders (
    id bigint primary key,
    customer integer not null,
    amount_cents integer not null,
    created date not null
);
insert into orders
select i, i * 7919 % 10007, i * 104729 % 100000, date '2020-01-01' + (i % 1500)::int
from generate_series(1::bigint, $rows) as i;
analyze orders;
SQL
echo "orders: $(psql -X -A -t -c 'select count(*) from orders') rows"
