"""The warehouse seam: what the engine asks of any warehouse, and the pieces all of them share.

A warehouse turns a sync's model (``sql``, ``file`` or ``table``) into a stream of Arrow record
batches. A DuckDB warehouse can instead hand the planner a ``LocalQuery``, which the planner's
own DuckDB connection runs itself: a 1M-row model then skips a round trip through Arrow, about
half the planning time. The model's SQL is parsed with sqlglot and wrapped as
``SELECT * FROM (<sql>) AS model``, so only a single read-only query is ever sent, and errors
name the sync.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from bcsync.errors import WarehouseError
from bcsync.project import ModelConfig

DEFAULT_BATCH_ROWS = 65_536
T = TypeVar("T")


def is_arrow_json(arrow_type: pa.DataType) -> bool:
    """Whether a column of the model is JSON (Arrow's ``arrow.json`` extension type)."""
    return (
        isinstance(arrow_type, pa.BaseExtensionType) and arrow_type.extension_name == "arrow.json"
    )


@dataclass(frozen=True)
class LocalQuery:
    """A model DuckDB can run in another connection of this process.

    ``database`` is the DuckDB file to attach read-only (None: the query reads only files, such
    as CSV or Parquet); ``sql`` is the model's query, naming that database's tables as the
    warehouse would; relative file paths in it resolve against ``file_search_path``.
    """

    sync: str
    sql: str
    database: str | None
    file_search_path: str

    def failed(self, exc: Exception) -> WarehouseError:
        return WarehouseError(f"sync '{self.sync}': model query failed: {exc}")


class Warehouse(Protocol):
    """A source of model rows. Implementations raise WarehouseError for every failure."""

    def schema(self, model: ModelConfig, *, sync: str) -> pa.Schema:
        """The model's columns and Arrow types, without reading its rows."""
        ...

    def stream(
        self, model: ModelConfig, *, sync: str, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> pa.RecordBatchReader:
        """The model's rows in batches of at most ``batch_rows``, in bounded memory."""
        ...

    def local_query(self, model: ModelConfig, *, sync: str) -> LocalQuery | None:
        """The model as a query the planner's DuckDB can run itself, or None: use ``stream``."""
        ...

    def close(self) -> None:
        """Release connections; the warehouse is unusable afterwards."""
        ...


def model_select(
    model: ModelConfig, *, sync: str, dialect: str | None, limit: int | None = None
) -> str:
    """The query that reads the model, in the warehouse's dialect.

    ``table`` models become ``SELECT * FROM "schema"."table"`` (identifiers normalised the way
    the dialect treats unquoted names, then quoted); SQL models must be one SELECT statement.
    """
    source: exp.Expression
    try:
        if model.table is not None:
            source = _table(model.table, sync=sync, dialect=dialect)
        else:
            source = _query(model.query or "", sync=sync, dialect=dialect).subquery("model")
        select = exp.select("*").from_(source)
        if limit is not None:
            select = select.limit(limit)
        return select.sql(dialect=dialect)
    except ParseError as exc:
        raise WarehouseError(
            f"sync '{sync}': model SQL could not be parsed: {_parse_problem(exc)}"
        ) from None
    except SqlglotError as exc:
        raise WarehouseError(f"sync '{sync}': model SQL could not be parsed: {exc}") from None


def _parse_problem(exc: ParseError) -> str:
    # sqlglot's own message underlines the token with terminal escape codes; rebuild it plainly.
    if not exc.errors:
        return str(exc)
    first = exc.errors[0]
    where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
    token = f" near '{first['highlight']}'" if first.get("highlight") else ""
    return f"{first.get('description') or 'invalid SQL'}{token}{where}"


def _table(name: str, *, sync: str, dialect: str | None) -> exp.Table:
    table = exp.to_table(name, dialect=dialect)
    if not isinstance(table, exp.Table) or table.alias or not table.name:
        raise WarehouseError(f"sync '{sync}': model table '{name}' is not a table name")
    table = normalize_identifiers(table, dialect=dialect)
    for identifier in table.find_all(exp.Identifier):
        identifier.set("quoted", True)
    return table


def _query(sql: str, *, sync: str, dialect: str | None) -> exp.Query:
    statements = [statement for statement in sqlglot.parse(sql, read=dialect) if statement]
    if len(statements) != 1:
        raise WarehouseError(
            f"sync '{sync}': the model must be exactly one SQL statement (found {len(statements)})"
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = statement.key.upper()
        raise WarehouseError(f"sync '{sync}': the model must be a SELECT query, not {kind}")
    return statement


def mask_url(url: str) -> str:
    """The URL with its password (in the user info or a ``password=`` parameter) as ``***``."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{host}"
    query = parts.query
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if any(key.lower() in ("password", "pwd") for key, _ in pairs):
        masked = [(k, "***" if k.lower() in ("password", "pwd") else v) for k, v in pairs]
        query = urllib.parse.urlencode(masked, safe="*/:")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    # Rebuilt by hand: urlunsplit drops the "//" of an empty host (unix-socket URLs).
    rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
    rebuilt += f"?{query}" if query else ""
    return rebuilt + (f"#{parts.fragment}" if parts.fragment else "")


def url_password(url: str) -> str | None:
    """The password in a URL, decoded, if any."""
    password = urllib.parse.urlsplit(url).password
    return urllib.parse.unquote(password) if password else None


def scrub(message: str, secret: str | None) -> str:
    """``message`` with every occurrence of ``secret`` replaced by ``***``."""
    # Very short secrets would mangle ordinary words; drivers do not echo passwords anyway.
    if secret and len(secret) >= 4:
        return message.replace(secret, "***")
    return message


def guarded_reader(
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    wrap: Callable[[Exception], WarehouseError],
) -> pa.RecordBatchReader:
    """A reader over ``batches`` whose failures while streaming arrive as WarehouseError."""

    def guarded() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except WarehouseError:
            raise
        except Exception as exc:
            raise wrap(exc) from None

    return pa.RecordBatchReader.from_batches(schema, guarded())
