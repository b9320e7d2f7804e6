"""The settings every PostgreSQL session bcsync opens runs with, whatever the server says.

psycopg reads values from the text PostgreSQL writes, and how it writes them is up to the session:
``DateStyle`` (``31/01/2024 08:00:00 UTC`` under ``SQL, DMY``, which psycopg cannot parse),
``IntervalStyle`` (likewise), ``extra_float_digits`` (``0`` rounds every float8 to 15 digits, so
most rows look changed), ``TimeZone`` (the offset timestamptz text carries and what
``date_trunc`` or ``::date`` of one gives), ``lc_monetary`` (how ``money`` is written) and
``client_encoding``. A DBA's ``ALTER ROLE … SET`` or ``ALTER DATABASE … SET``, or the server's
configuration, would then change what bcsync reads — in the warehouse (phantom changes, or none
detected) and in the run store (``runs`` failing on its own timestamps).

So each new connection sets them first, in one statement, and commits: a value set in a session
outranks the role's, the database's and the server's defaults, and survives the rollbacks the
connection pool makes. ``DateStyle = ISO`` sets only the output format; the role's day/month
order, which only affects how date literals in the user's own SQL are read, is kept.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

PINNED = {
    "DateStyle": "ISO",
    "IntervalStyle": "postgres",
    # Any value above 0 gives the shortest exact text from PostgreSQL 12; 3 is exact on older.
    "extra_float_digits": "3",
    "TimeZone": "UTC",
    "lc_monetary": "C",
    "client_encoding": "UTF8",
}
_PIN_SQL = "SELECT " + ", ".join(
    f"set_config('{name}', '{value}', false)" for name, value in PINNED.items()
)


def pin_session_settings(engine: sa.Engine) -> None:
    """Have every connection ``engine`` opens to PostgreSQL start with ``PINNED`` settings."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _pin)


def _pin(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_PIN_SQL)
    finally:
        cursor.close()
    dbapi_connection.commit()
