#!/bin/sh
# Creates the sqlite database DB (default orders.db) with an `orders` table of ROWS rows
# (default 1,000,000), replacing any earlier one.
#   examples/sqlite/make_db.sh [DB] [ROWS]
set -eu
db=${1:-orders.db}
rows=${2:-1000000}
rm -f "$db"
sqlite3 "$db" <<SQL
create table orders (
    id integer primary key,
    customer integer not null,
    amount_cents integer not null,
    created text not null
);
with recursive n(i) as (select 1 union all select i + 1 from n where i < $rows)
insert into orders
select i, i * 7919 % 10007, i * 104729 % 100000, date('2020-01-01', '+' || (i % 1500) || ' days') from n;
SQL
echo "$db: $(sqlite3 "$db" 'select count(*) from orders') rows"
