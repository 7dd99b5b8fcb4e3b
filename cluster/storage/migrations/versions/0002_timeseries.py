"""Time series for research: ticks, bars and the 1-minute -> 1-hour rollup.

PostgreSQL with the TimescaleDB extension: hypertables chunked by day, compressed after a week
(segmented by symbol), and ``bars_1h`` as a continuous aggregate of the 1-minute bars.
PostgreSQL without it: tables range-partitioned by day on ``ts_ns`` (partitions made ahead of
each write by ``octet_ensure_partitions``, a default partition catches the rest), BRIN indexes on
time, and ``bars_1h`` a table kept by ``octet_rollup_1h``. SQLite: plain tables with the same
columns. Which one was made is recorded in ``octet_meta.timeseries``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DAY_NS = 86_400 * 10**9
TICKS = "symbol varchar(32) NOT NULL, ts_ns bigint NOT NULL, bid bigint NOT NULL, ask bigint NOT NULL"
BARS = ("symbol varchar(32) NOT NULL, seconds integer NOT NULL, ts_ns bigint NOT NULL, open bigint NOT NULL, "
        "high bigint NOT NULL, low bigint NOT NULL, close bigint NOT NULL, volume bigint NOT NULL")
HOURS = ("symbol varchar(32) NOT NULL, ts_ns bigint NOT NULL, open bigint NOT NULL, high bigint NOT NULL, "
         "low bigint NOT NULL, close bigint NOT NULL, volume bigint NOT NULL, PRIMARY KEY (symbol, ts_ns)")


def _timescale_available() -> bool:
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).scalar():
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
        return True
    except sa.exc.DBAPIError:  # present but not preloaded: the native path
        return False


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table("octet_meta", sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.String(256), nullable=False))
    if dialect != "postgresql":
        mode = "plain"
        op.execute(f"CREATE TABLE ticks ({TICKS})")
        op.execute("CREATE INDEX ix_ticks_symbol_ts ON ticks (symbol, ts_ns)")
        op.execute(f"CREATE TABLE bars ({BARS}, PRIMARY KEY (symbol, seconds, ts_ns))")
        op.execute(f"CREATE TABLE bars_1h ({HOURS})")
    elif _timescale_available():
        mode = "timescaledb"
        op.execute(f"CREATE TABLE ticks ({TICKS})")
        op.execute(f"CREATE TABLE bars ({BARS}, PRIMARY KEY (symbol, seconds, ts_ns))")
        op.execute("CREATE FUNCTION octet_now_ns() RETURNS bigint LANGUAGE sql STABLE AS "
                   "$$ SELECT (extract(epoch FROM now()) * 1e9)::bigint $$")
        for table in ("ticks", "bars"):
            op.execute(f"SELECT create_hypertable('{table}', 'ts_ns', chunk_time_interval => {DAY_NS})")
            op.execute(f"SELECT set_integer_now_func('{table}', 'octet_now_ns')")
            op.execute(f"ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', "
                       "timescaledb.compress_orderby = 'ts_ns')")
            op.execute(f"SELECT add_compression_policy('{table}', compress_after => {7 * DAY_NS}::bigint)")
        op.execute("CREATE INDEX ix_ticks_symbol_ts ON ticks (symbol, ts_ns DESC)")
        op.execute(f"""CREATE MATERIALIZED VIEW bars_1h WITH (timescaledb.continuous) AS
            SELECT symbol, time_bucket({3600 * 10**9}::bigint, ts_ns) AS ts_ns, first(open, ts_ns) AS open,
                   max(high) AS high, min(low) AS low, last(close, ts_ns) AS close, sum(volume)::bigint AS volume
            FROM bars WHERE seconds = 60 GROUP BY symbol, time_bucket({3600 * 10**9}::bigint, ts_ns)
            WITH NO DATA""")
    else:
        mode = "partitioned"
        op.execute(f"CREATE TABLE ticks ({TICKS}) PARTITION BY RANGE (ts_ns)")
        op.execute(f"CREATE TABLE bars ({BARS}, PRIMARY KEY (symbol, seconds, ts_ns)) PARTITION BY RANGE (ts_ns)")
        for table in ("ticks", "bars"):
            op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
            op.execute(f"CREATE INDEX ix_{table}_ts_brin ON {table} USING brin (ts_ns)")
        op.execute("CREATE INDEX ix_ticks_symbol_ts ON ticks (symbol, ts_ns)")
        op.execute(f"CREATE TABLE bars_1h ({HOURS})")
        op.execute(f"""
            CREATE FUNCTION octet_ensure_partitions(tbl text, from_ns bigint, to_ns bigint) RETURNS integer
            LANGUAGE plpgsql AS $$
            DECLARE day bigint := from_ns - (from_ns % {DAY_NS}); made integer := 0; name text;
            BEGIN
              WHILE day <= to_ns LOOP
                name := tbl || '_' || to_char(to_timestamp(day / 1e9) AT TIME ZONE 'UTC', 'YYYYMMDD');
                IF to_regclass(name) IS NULL THEN
                  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                                 name, tbl, day, day + {DAY_NS});
                  made := made + 1;
                END IF;
                day := day + {DAY_NS};
              END LOOP;
              RETURN made;
            END $$""")
    op.execute(sa.text("INSERT INTO octet_meta (key, value) VALUES ('timeseries', :mode)").bindparams(mode=mode))


def downgrade() -> None:
    bind = op.get_bind()
    mode = bind.execute(sa.text("SELECT value FROM octet_meta WHERE key = 'timeseries'")).scalar()
    if mode == "timescaledb":
        op.execute("DROP MATERIALIZED VIEW IF EXISTS bars_1h")
    else:
        op.execute("DROP TABLE IF EXISTS bars_1h")
    op.execute("DROP TABLE IF EXISTS bars")  # partitions go with their parent
    op.execute("DROP TABLE IF EXISTS ticks")
    if mode == "partitioned":
        op.execute("DROP FUNCTION IF EXISTS octet_ensure_partitions(text, bigint, bigint)")
    if mode == "timescaledb":
        op.execute("DROP FUNCTION IF EXISTS octet_now_ns()")
    op.drop_table("octet_meta")
