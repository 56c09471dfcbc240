"""Helpers of the PostgreSQL tests: unique table prefixes, dropped afterwards."""

from __future__ import annotations

import time
import uuid

import psycopg

TABLES = ("messages", "sessions", "schema")


def new_prefix() -> str:
    """A table prefix no other test (or test run) uses."""
    return f"t_{uuid.uuid4().hex[:10]}_"


def drop_tables(dsn: str, prefix: str, schema: str = "public") -> None:
    """Drop the tables a store with ``prefix`` created in ``schema`` (if any)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = ", ".join(f'"{schema}"."{prefix}{table}"' for table in TABLES)
        conn.execute(f"DROP TABLE IF EXISTS {names} CASCADE")


def with_search_path(dsn: str, search_path: str) -> str:
    """``dsn`` with libpq ``options`` that set the connection's ``search_path``."""
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options=-c%20search_path%3D{search_path}"


def tables_of(dsn: str, prefix: str) -> list[tuple[object, ...]]:
    """(schema, table) of every table named ``prefix...``, whatever the schema."""
    return query(
        dsn,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_name LIKE %s ORDER BY table_schema, table_name",
        (prefix.replace("_", r"\_") + "%",),
    )


def terminate(dsn: str, application_name: str) -> int:
    """``pg_terminate_backend`` every connection named ``application_name``; how many.

    Waits until they are gone. Only those: other tests share the server.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchone()
        for _ in range(500):
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            ).fetchone()
            if left == (0,):
                break
            conn.execute("SELECT pg_sleep(0.01)")
    # The server side is gone; give the client's kernel a moment to see the FIN, as
    # any real next call would (the store checks the socket, it does not guess).
    time.sleep(0.05)
    return 0 if row is None else int(row[0])


def query(dsn: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows of one statement run outside any store (autocommit)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(sql.encode(), params)
        return cursor.fetchall() if cursor.description is not None else []
