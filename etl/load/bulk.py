"""Bulk writes that are fast on both databases.

PostgreSQL: COPY (psycopg 3) into a temporary staging table, then one INSERT … SELECT … ON
CONFLICT. SQLite: one executemany of INSERT … ON CONFLICT inside the caller's transaction.
Rows come as a list of dictionaries or, from the large writes, as columns (name → list of
values, see :mod:`etl.load.columns`): no dictionary per row is built for those.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from etl.load.columns import Columns, column_rows, int_values

_staging_counter = itertools.count()
Rows = Sequence[dict[str, object]] | Mapping[str, Sequence[object]]


def _as_columns(rows: Rows) -> Columns:
    if isinstance(rows, Mapping):
        return {c: v if isinstance(v, list) else list(v) for c, v in rows.items()}
    if not rows:
        return {}
    return {c: [r[c] for r in rows] for c in rows[0]}


def _height(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def _filled(table: sa.Table, columns: Columns) -> Columns:
    """The columns to insert: one no row fills, without a default of its own, is left to the
    database (NULL all the same). Binding ``None`` is the slowest parameter the sqlite3 module
    takes (an adapter lookup per cell), and a load leaves whole columns empty: a registry has
    no passports or feeds, a first load nothing superseded."""
    return {c: v for c, v in columns.items()
            if table.c[c].default is not None or table.c[c].server_default is not None
            or any(v) or v.count(None) < len(v)}  # C loops, unlike a test of each value


def bulk_upsert(conn: Connection, table: sa.Table, rows: Rows, conflict: Sequence[str],
                update: Sequence[str] = ()) -> int:
    """Insert ``rows``; on a ``conflict`` key update ``update`` columns (or do nothing)."""
    data = _filled(table, _as_columns(rows))
    if not _height(data):
        return 0
    if conn.dialect.name == "postgresql":
        return _pg_copy_upsert(conn, table, data, conflict, update)
    stmt = sqlite.insert(table) if conn.dialect.name == "sqlite" else postgresql.insert(table)
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict),
                                          set_={c: stmt.excluded[c] for c in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    if not _executemany_plain(conn, stmt, table, data):
        conn.execute(stmt, column_rows(data))
    return _height(data)


def _executemany_plain(conn: Connection, stmt: sa.Insert, table: sa.Table,
                       data: Columns) -> bool:
    """SQLite: the statement compiled once and handed to the driver's ``executemany`` with
    plain tuples (see :func:`_driver_executemany`)."""
    if conn.dialect.name != "sqlite":
        return False
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(data))
    return _driver_executemany(conn, compiled, data, lambda name: table.c[name])


# What a missing value is bound as on SQLite: a NaN, which SQLite stores as NULL (a REAL that
# is not a number is not stored; sqlite3VdbeMemSetDouble leaves the cell NULL). The sqlite3
# module binds a float straight away, but passes ``None`` through its adapter lookup first
# (a key tuple, a dictionary probe and two attribute lookups per cell): rows of 35 columns,
# 30 % of them empty, were written in 0.54× the time, the same rows read back
# (benchmarks/bench_sqlite_writes.py). Columns no row fills are not bound at all (_filled).
SQLITE_NULL = float("nan")


def _null_as_nan(convert: Callable[[object], object], value: object) -> object:
    out = convert(value)
    return SQLITE_NULL if out is None else out


def _driver_executemany(conn: Connection, compiled: sa.sql.compiler.Compiled, data: Columns,
                        column_of: Callable[[str], sa.Column]) -> bool:
    """SQLite: ``executemany`` of plain tuples, each value through its column type's own
    conversion (what SQLAlchemy would apply) — several times faster than SQLAlchemy's per-row
    parameter handling. Each distinct value is converted once: dates, timestamps and flags
    repeat. A missing value is bound as :data:`SQLITE_NULL`. ``False`` where the compiled
    parameters are not simply the columns: the caller takes the ordinary path."""
    order = list(compiled.positiontup or [])
    if conn.dialect.name != "sqlite" or sorted(order) != sorted(data):
        return False
    values = []
    for name in order:
        convert = column_of(name).type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        column = data[name]
        if convert is not None:
            once = functools.lru_cache(maxsize=None, typed=True)(functools.partial(
                _null_as_nan, convert))
            values.append(list(map(once, column)))
        elif None in column:
            values.append([SQLITE_NULL if v is None else v for v in column])
        else:
            values.append(column)
    # The rows handed over one at a time, straight to the driver: a list of every row's tuple
    # cost 18 % of the write (measured on 200,000 rows of 45 columns), where the driver lets go
    # of each row once bound and ``zip`` reuses it. The write is in the connection's open
    # transaction, which the driver began (or begins here) as it does for SQLAlchemy's own.
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(str(compiled), zip(*values, strict=True))
    finally:
        cursor.close()
    return True


def _pg_copy(conn: Connection, table: str, data: Columns) -> None:
    """COPY the columns into ``table`` (psycopg 3, text format)."""
    quoted = ", ".join(f'"{c}"' for c in data)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
        for row in zip(*data.values(), strict=True):
            copy.write_row(row)


def _pg_staging(conn: Connection, table: sa.Table, data: Columns) -> str:
    """A temporary table shaped like ``table``'s ``data`` columns, filled by COPY."""
    staging = f"_stage_{table.name}_{next(_staging_counter)}"
    quoted = ", ".join(f'"{c}"' for c in data)
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE "{staging}" ON COMMIT DROP AS '
        f'SELECT {quoted} FROM "{table.name}" WITH NO DATA')
    _pg_copy(conn, staging, data)
    return staging


def _pg_copy_upsert(conn: Connection, table: sa.Table, data: Columns, conflict: Sequence[str],
                    update: Sequence[str]) -> int:
    staging = _pg_staging(conn, table, data)
    quoted = ", ".join(f'"{c}"' for c in data)
    target = ", ".join(f'"{c}"' for c in conflict)
    if update:
        sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update)
        action = f"DO UPDATE SET {sets}"
    else:
        action = "DO NOTHING"
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM "{staging}" '
        f"ON CONFLICT ({target}) {action}")
    conn.exec_driver_sql(f'DROP TABLE "{staging}"')
    return _height(data)


def bulk_insert(conn: Connection, table: sa.Table, rows: Rows) -> int:
    """Plain insert of rows known to be new (COPY straight in on PostgreSQL)."""
    data = _filled(table, _as_columns(rows))
    if not _height(data):
        return 0
    if conn.dialect.name == "postgresql":
        _pg_copy(conn, table.name, data)
    elif not _executemany_plain(conn, table.insert(), table, data):
        conn.execute(table.insert(), column_rows(data))
    return _height(data)


def bulk_update(conn: Connection, table: sa.Table, key: str, rows: Rows) -> int:
    """Update rows by primary key ``key`` (the rows share the same columns): on PostgreSQL a
    COPY into a staging table and one UPDATE … FROM; on SQLite one executemany of plain
    tuples."""
    data = _as_columns(rows)
    if not _height(data):
        return 0
    columns = [c for c in data if c != key]
    if conn.dialect.name == "postgresql":
        # COPY's text of 9.0 is refused by an integer column (a bound parameter was cast)
        data = {c: int_values(v) if isinstance(table.c[c].type, sa.Integer) else v
                for c, v in data.items()}
        staging = _pg_staging(conn, table, data)
        sets = ", ".join(f'"{c}" = s."{c}"' for c in columns)
        conn.exec_driver_sql(f'UPDATE "{table.name}" AS t SET {sets} FROM "{staging}" AS s '
                             f'WHERE t."{key}" = s."{key}"')
        conn.exec_driver_sql(f'DROP TABLE "{staging}"')
        return _height(data)
    stmt = (sa.update(table).where(table.c[key] == sa.bindparam("_key"))
            .values({c: sa.bindparam(c) for c in columns}))
    renamed = {**{c: data[c] for c in columns}, "_key": data[key]}
    if not _driver_executemany(conn, stmt.compile(dialect=conn.dialect), renamed,
                               lambda name: table.c[key if name == "_key" else name]):
        conn.execute(stmt, column_rows(renamed))
    return _height(data)


def in_values(conn: Connection, column: sa.ColumnElement, values: Sequence[object]
              ) -> sa.ColumnElement[bool]:
    """``column IN values`` for thousands of keys (plain values: texts, numbers), as one
    parameter: on PostgreSQL an array (``= ANY(:values)``), on SQLite a JSON array read by
    ``json_each`` (still a search of the column's index per value). An expanded IN of 5,000
    literals is a new statement text each time, rendered by SQLAlchemy and parsed again by the
    driver and the server: 7 ms a chunk on SQLite, most of a lookup's time."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values),
                                              type_=postgresql.ARRAY(column.type)))
    if conn.dialect.name == "sqlite":
        listed = sa.func.json_each(sa.bindparam(None, json.dumps(list(values)))).table_valued(
            "value")
        return column.in_(sa.select(listed.c.value))
    return column.in_(values)
