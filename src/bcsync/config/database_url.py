"""Database URLs (``warehouse.url``, ``state.url``), read alike for the warehouse and the run store.

A URL is split as RFC 3986 says (``urllib.parse``), not by SQLAlchemy's ``make_url``, which ends
the password at its *first* ``@``: ``p@ss1234@db`` became host ``ss1234@db``, and the driver's
"failed to resolve host" showed part of the password. Here the user info ends at the authority's
*last* ``@``, so ``@`` and ``:`` work in a password even unencoded. ``/``, ``?`` and ``#`` end the
authority, so written raw in a password they leave an ``@`` after the host: that is refused with a
message saying to percent-encode, never guessed at. Every part is percent-decoded once, here (so
``%41`` in a URL is ``A``; a password given through ``${VAR}`` is encoded for it, see
``bcsync.config.yamlsource``), and the SQLAlchemy URL is made from the parts with
``URL.create``, never re-parsed from text.

No message of this module quotes the URL beyond its scheme: the part that is malformed may be a
password. ``masked`` and ``scrub`` keep passwords out of the messages of the code that connects.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable

from sqlalchemy.engine import URL

PSYCOPG = "postgresql+psycopg"
RUN_STORE_BACKENDS = ("sqlite", "postgresql")
MASK = "***"
# Query parameters that carry a password (libpq's and ODBC's names).
_PASSWORD_PARAMETERS = frozenset({"password", "pwd"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# Shorter secrets would mangle ordinary words; drivers do not echo passwords anyway.
_SCRUB_MIN_LENGTH = 4


class UrlError(ValueError):
    """A ``warehouse.url`` or ``state.url`` that cannot be read; the message quotes none of it."""


def parse(text: str) -> URL:
    """The URL's parts, decoded; ``postgresql://`` and ``postgres://`` mean psycopg 3.

    Raises ``UrlError`` when ``text`` is not a database URL.
    """
    scheme, separator, _ = text.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        raise UrlError(
            "not a database URL (expected postgresql://USER@HOST/DATABASE, "
            "sqlite:///PATH or duckdb:///PATH)"
        )
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:  # a bracket outside an IPv6 host
        raise UrlError(
            "a '[' or ']' outside an IPv6 host: percent-encode them in the user name and "
            "password (%5B, %5D)"
        ) from None
    if parts.netloc and "@" in parts.path + parts.query + parts.fragment:
        raise UrlError(
            "an '@' after the host: a password with '/', '?' or '#' must have them "
            "percent-encoded (%2F, %3F, %23), or be given through ${VAR} or PGPASSWORD; "
            "an '@' in the database name or query is %40"
        )
    if parts.netloc and parts.fragment:
        raise UrlError("a '#' after the host: percent-encode it (%23)")
    try:
        port = parts.port
    except ValueError:
        raise UrlError(
            "the port is not a number from 0 to 65535 (several hosts go in the query: "
            "?host=HOST1:5432&host=HOST2:5432)"
        ) from None
    query: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(parts.query):
        query.setdefault(key, []).append(value)
    drivername = scheme.lower()
    return URL.create(
        PSYCOPG if drivername in ("postgresql", "postgres") else drivername,
        username=_decoded(parts.username),
        password=_decoded(parts.password),
        host=parts.hostname,
        port=port,
        database=_decoded(parts.path[1:] if parts.path.startswith("/") else parts.path),
        query={
            key: values[0] if len(values) == 1 else tuple(values) for key, values in query.items()
        },
    )


def parse_warehouse_url(text: str) -> URL:
    """``parse`` for the warehouse: any SQLAlchemy database, or DuckDB (a file, never a host)."""
    url = parse(text)
    if url.drivername == "duckdb" and (url.host or url.username or url.password):
        raise UrlError("a DuckDB URL names a file, not a host (duckdb:///PATH)")
    return url


def parse_store_url(text: str) -> URL:
    """``parse`` for the run store, which is SQLite or PostgreSQL."""
    url = parse(text)
    if url.get_backend_name() not in RUN_STORE_BACKENDS:
        raise UrlError(
            f"the run store supports sqlite and postgresql, not {url.drivername!r} "
            "(expected sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
        )
    return url


def _decoded(part: str | None) -> str | None:
    # An empty password is no password: libpq then falls back to PGPASSWORD and ~/.pgpass.
    return urllib.parse.unquote(part) if part else None


_UNKNOWN_OPTION = re.compile(r'invalid connection option "[^"]*"')


def password_spans(text: str) -> list[tuple[int, int]]:
    """Where the passwords of the URL ``text`` are (``text[start:end]``): in the user info and
    in ``?password=`` (or ``pwd=``) query parameters.

    ``text`` may be a template whose ``${VAR}`` references were replaced by filler of the same
    length: the loader uses this to encode the values of references that stand in a password.
    """
    spans = [span] if (span := password_span(text)) is not None else []
    question = text.find("?")
    if question < 0:
        return spans
    end = text.find("#", question)
    offset = question + 1
    for pair in text[offset : end if end >= 0 else len(text)].split("&"):
        key, equals, _ = pair.partition("=")
        if equals and key.lower() in _PASSWORD_PARAMETERS:
            spans.append((offset + len(key) + 1, offset + len(pair)))
        offset += len(pair) + 1
    return spans


def password_span(text: str) -> tuple[int, int] | None:
    """Where the password in the user info of the URL ``text`` starts and ends, if it has one."""
    scheme, separator, _ = text.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return None
    start = len(scheme) + len(separator)
    ends = [found for found in (text.find(mark, start) for mark in "/?#") if found >= 0]
    at = text.rfind("@", start, min(ends, default=len(text)))
    colon = text.find(":", start, at) if at >= 0 else -1
    return (colon + 1, at) if colon >= 0 else None


def masked(url: URL) -> str:
    """The URL for messages: the password, in the user info or the query, as ``***``."""
    query = {
        key: MASK if key.lower() in _PASSWORD_PARAMETERS else value
        for key, value in url.query.items()
    }
    # The mask itself would come out percent-encoded in the query: show it as written.
    text = url.set(query=query).render_as_string(hide_password=True)
    return text.replace(urllib.parse.quote(MASK, safe=""), MASK)


def secrets(url: URL) -> tuple[str, ...]:
    """Every password connecting with ``url`` may use, for ``scrub``.

    That is PGPASSWORD too when a PostgreSQL URL has no password of its own (libpq reads it).
    """
    found = [url.password] if isinstance(url.password, str) else []
    for key, value in url.query.items():
        if key.lower() in _PASSWORD_PARAMETERS:
            found.extend([value] if isinstance(value, str) else value)
    if url.get_backend_name() == "postgresql" and not found:
        found.append(os.environ.get("PGPASSWORD", ""))
    return tuple(secret for secret in found if len(secret) >= _SCRUB_MIN_LENGTH)


def scrub(message: str, hidden: Iterable[str]) -> str:
    """``message`` with every secret, as is or percent-encoded, replaced by ``***``.

    libpq names an unknown connection option it was given: with a password in the query
    string holding an unencoded ``&``, that name is a piece of the password, so it is never
    shown."""
    for secret in hidden:
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            message = message.replace(form, MASK)
    return _UNKNOWN_OPTION.sub(
        "invalid connection option (its name is not shown: it may be a piece of a password "
        'in the query string; write "&" in a password as %26)',
        message,
    )
