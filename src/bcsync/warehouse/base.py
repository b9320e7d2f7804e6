"""The warehouse seam: what the engine asks of any warehouse, and the pieces all of them share.

A warehouse turns a sync's model (``sql``, ``file`` or ``table``) into a stream of Arrow record
batches. A DuckDB warehouse can instead hand the planner a ``LocalQuery``, which the planner's
own DuckDB connection runs itself: a 1M-row model then skips a round trip through Arrow, about
half the planning time. The model's SQL is parsed with sqlglot and wrapped as
``SELECT * FROM (<sql>) AS model``, so only a single read-only query is ever sent, and errors
name the sync.

sqlglot only *checks* model SQL; the text sent is the user's own. sqlglot reads some broken SQL
leniently (``select a, from t`` loses its comma, ``from t group`` makes ``group`` an alias) and
sending its rewrite would run a query the user never wrote, so the warehouse sees the SQL as
written and its own syntax error, naming the token, reaches the user.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import pyarrow as pa
from sqlglot import Token, TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError

DEFAULT_BATCH_ROWS = 65_536
T = TypeVar("T")
# Stands in for the model's SQL while sqlglot writes the wrapping query in the warehouse's dialect.
_MODEL_SQL = "bcsync_model_sql"


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
    ``bcsync.warehouse.duckdb.AttachedModel`` attaches it to a connection to run it there.
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
    the dialect treats unquoted names, then quoted); SQL models must be one SELECT statement,
    and are sent as written (see the module docstring).
    """
    try:
        if model.table is not None:
            source: exp.Expr = _table(model.table, sync=sync, dialect=dialect)
            text = None
        else:
            source = exp.to_table(_MODEL_SQL).as_("model")
            text = _query_text(model.query or "", sync=sync, dialect=dialect)
        select = exp.select("*").from_(source)
        if limit is not None:
            select = select.limit(limit)
        sql = select.sql(dialect=dialect)
    except ParseError as exc:
        raise WarehouseError(
            f"sync '{sync}': model SQL has a syntax error{_parse_problem(exc)}"
        ) from None
    except TokenError as exc:
        raise WarehouseError(
            f"sync '{sync}': model SQL has a syntax error: {_unclosed(exc)}"
        ) from None
    except SqlglotError as exc:
        raise WarehouseError(f"sync '{sync}': model SQL could not be parsed: {exc}") from None
    return sql if text is None else sql.replace(_MODEL_SQL, f"({text})", 1)


# The warehouse's syntax error when the model stops too early (``… from t,``, ``… group``): it
# names the ")" closing bcsync's wrapping subquery, and its caret points at that ")".
_CUT_SHORT = re.compile(r'syntax error at or near "\)".*?LINE (\d+): ([^\n]*)\n( *)\^', re.S)


def query_failed(sync: str, message: str) -> WarehouseError:
    """The error for a model query the warehouse refused with ``message`` (already scrubbed).

    A model that stops before its statement is complete is reported as such, at its last line:
    the warehouse's own words would name a ")" the user never wrote and quote the wrapping
    query (PostgreSQL and DuckDB word it the same way).
    """
    cut = _CUT_SHORT.search(message)
    if cut:
        line, text, caret = int(cut.group(1)), cut.group(2), len(cut.group(3))
        at = caret - len(f"LINE {line}: ")
        if re.fullmatch(r"\) AS model( LIMIT \d+)?", text[at:].rstrip()):
            last = text[:at].removeprefix("SELECT * FROM (").strip()[-30:]  # the model's own
            return WarehouseError(
                f"sync '{sync}': model SQL has a syntax error at line {line}: the query ends "
                f"before its statement is complete, after '{last}' (a trailing comma, or a "
                "clause without what must follow it)"
            )
    return WarehouseError(f"sync '{sync}': model query failed: {message}")


def _parse_problem(exc: ParseError) -> str:
    """`` at line 3, column 1 near 'where': …`` from sqlglot's first error, plain text."""
    # sqlglot's own message underlines the token with terminal escape codes; rebuild it plainly.
    if not exc.errors:
        return f": {exc}"
    first = exc.errors[0]
    token = str(first.get("highlight") or "")
    where = ""
    if first.get("line"):
        where = f" at line {first['line']}, column {_start(int(first.get('col') or 1), token)}"
    near = f" near '{token}'" if token else ""
    return f"{where}{near}: {_plain(str(first.get('description') or 'invalid SQL'))}"


def _plain(description: str) -> str:
    """sqlglot's description without Python reprs of its classes and tokens."""
    description = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", description)
    description = re.sub(
        r"<Token token_type: TokenType\.SENTINEL\b[^>]*>", "the end of the query", description
    )
    return re.sub(r"<Token token_type: [^,]*, text: ([^,]*),[^>]*>", r"'\1'", description)


def _unclosed(exc: TokenError) -> str:
    """What the tokenizer could not read: in practice a quote or comment left open."""
    cause = str(exc.__cause__ or "")
    opened = re.fullmatch(r"Missing (\S+) from (\d+):\d+", cause)
    if opened:
        return f"{opened.group(1)} opened on line {opened.group(2)} is never closed"
    return "a quote, quoted name or comment is never closed"


def _table(name: str, *, sync: str, dialect: str | None) -> exp.Table:
    table = exp.to_table(name, dialect=dialect)
    if not isinstance(table, exp.Table) or table.alias or not table.name:
        raise WarehouseError(f"sync '{sync}': model table '{name}' is not a table name")
    table = normalize_identifiers(table, dialect=dialect)
    for identifier in table.find_all(exp.Identifier):
        identifier.set("quoted", True)
    return table


def _query_text(sql: str, *, sync: str, dialect: str | None) -> str:
    """The model's one SELECT statement as written, without the ``;`` and comments around it."""
    reader = Dialect.get_or_raise(dialect)
    tokens = reader.tokenize(sql)
    words = [token for token in tokens if token.token_type != TokenType.SEMICOLON]
    try:
        parsed = reader.parser().parse(tokens, sql)
    except ParseError:
        if words and words[0].token_type == TokenType.VAR:  # a word SQL does not know
            raise _not_a_query(sync, words[0]) from None  # ``selec * from t``: the typo, not '*'
        raise
    # A comment after the last ``;`` comes back as a Semicolon "statement": it is not one.
    statements = [one for one in parsed if one and not isinstance(one, exp.Semicolon)]
    if len(statements) != 1:
        raise WarehouseError(
            f"sync '{sync}': the model must be exactly one SQL statement (found {len(statements)})"
        )
    statement = statements[0]
    first, last = words[0], words[-1]
    if not isinstance(statement, exp.Query):
        # Every statement starts with a keyword: text that starts otherwise (a misspelt SELECT),
        # or that sqlglot reads as a bare value or alias (``selec x``), is a syntax error.
        if not _is_keyword(first, reader) or isinstance(statement, exp.Condition | exp.Alias):
            raise _not_a_query(sync, first)
        kind = statement.key.upper()
        raise WarehouseError(f"sync '{sync}': the model must be a SELECT query, not {kind}")
    # Newlines stand in for what comes before the statement, so the warehouse's line numbers
    # are the model's own.
    return "\n" * sql.count("\n", 0, first.start) + sql[first.start : last.end + 1]


def _is_keyword(token: Token, reader: Dialect) -> bool:
    return token.token_type in set(reader.tokenizer_class.KEYWORDS.values())


def _not_a_query(sync: str, first: Token) -> WarehouseError:
    return WarehouseError(
        f"sync '{sync}': model SQL has a syntax error at line {first.line}, "
        f"column {_start(first.col, first.text)} near '{first.text}': expected a SELECT query"
    )


def _start(column: int, text: str) -> int:
    """The column where a token starts: sqlglot gives its last character's, editors its first."""
    return max(column - len(text) + 1, 1) if text and "\n" not in text else column


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
