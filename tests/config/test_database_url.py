"""Database URLs: how ``warehouse.url`` and ``state.url`` are read, masked and validated.

Against a real server (the password reaching PostgreSQL intact) see
``tests/warehouse/test_postgres_urls.py``; here, what the URL means and what messages say.
"""

from __future__ import annotations

import textwrap
import urllib.parse
from pathlib import Path

import pytest

from bcsync.config import database_url
from bcsync.config.project import load_config
from bcsync.errors import ConfigError, StateError, WarehouseError
from bcsync.state import RunStore
from bcsync.warehouse import open_warehouse

# Each piece between the special characters is distinctive, so a message holding any part of the
# password is caught, not only one holding all of it.
SPECIAL = {
    "at": "Zqv7@Wx12@Kp9m",
    "colon": "Zqv7:Wx12:Kp9m",
    "slash": "Zqv7/Wx12/Kp9m",
    "percent": "Zqv7%Wx12%zzKp",
    "hash": "Zqv7#Wx12#Kp9m",
    "question": "Zqv7?Wx12 Kp9m",
    "percent41": "Zqv7%41Wx12Kp9",
}
PROJECT = """\
version: 1
warehouse:
  url: {warehouse}
state:
  url: {state}
destinations:
  store: {{type: bigcommerce, store_hash: abc, access_token: tok}}
"""


def parts_of(password: str) -> list[str]:
    """The password, encoded or not, and every piece of it between special characters."""
    pieces = [piece for piece in password.replace("%41", " ").split() if len(piece) >= 4]
    for mark in "@:/%#?":
        pieces = [part for piece in pieces for part in piece.split(mark) if len(part) >= 4]
    return [password, urllib.parse.quote(password, safe=""), *pieces]


def assert_no_part_of(password: str, *texts: str) -> None:
    for text in texts:
        for part in parts_of(password):
            assert part not in text, f"{part!r} of the password is in: {text}"


def project(directory: Path, *, warehouse: str, state: str = "sqlite:///s.db") -> Path:
    path = directory / "bcsync.yml"
    path.write_text(PROJECT.format(warehouse=warehouse, state=state), encoding="utf-8")
    return path


@pytest.mark.parametrize("password", SPECIAL.values(), ids=SPECIAL.keys())
def test_a_percent_encoded_password_is_decoded_once(password: str) -> None:
    encoded = urllib.parse.quote(password, safe="")
    url = database_url.parse(f"postgresql://bc:{encoded}@db.example.com:6432/analytics")
    assert (url.drivername, url.username, url.password) == ("postgresql+psycopg", "bc", password)
    assert (url.host, url.port, url.database) == ("db.example.com", 6432, "analytics")
    assert database_url.masked(url) == "postgresql+psycopg://bc:***@db.example.com:6432/analytics"


@pytest.mark.parametrize("password", ["Zqv7@Wx12@Kp9m", "Zqv7:Wx12:Kp9m", "p@ss:w@rd:"])
def test_at_signs_and_colons_work_even_unencoded(password: str) -> None:
    url = database_url.parse(f"postgres://bc:{password}@127.0.0.1/analytics")
    assert (url.username, url.password, url.host) == ("bc", password, "127.0.0.1")


@pytest.mark.parametrize("password", ["Zqv7/Wx12/Kp9m", "Zqv7#Wx12#Kp9m", "Zqv7?Wx12 Kp9m"])
def test_an_unencoded_slash_hash_or_question_mark_is_refused_without_quoting_it(
    password: str,
) -> None:
    with pytest.raises(database_url.UrlError, match="percent-encoded") as error:
        database_url.parse(f"postgresql://bc:{password}@127.0.0.1/analytics")
    assert_no_part_of(password, str(error.value))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bc:s3cr%40t@db:5432/a", "postgresql+psycopg://bc:***@db:5432/a"),
        (
            "postgresql://db/a?user=bc&password=s3cret&sslmode=require",
            "postgresql+psycopg://db/a?password=***&sslmode=require&user=bc",
        ),
        ("postgresql://bc:pw@/db?host=/run/pg", "postgresql+psycopg://bc:***@/db?host=%2Frun%2Fpg"),
        ("sqlite:////abs/state.db", "sqlite:////abs/state.db"),
        ("mysql+pymysql://bc:pw@db/a", "mysql+pymysql://bc:***@db/a"),
    ],
)
def test_masked_hides_the_password_in_user_info_and_query(url: str, expected: str) -> None:
    assert database_url.masked(database_url.parse(url)) == expected


def test_file_urls_keep_their_paths() -> None:
    assert database_url.parse("sqlite:///.bcsync/state.db").database == ".bcsync/state.db"
    assert database_url.parse("sqlite:////abs/state.db").database == "/abs/state.db"
    assert database_url.parse("sqlite://").database is None


def test_an_empty_password_is_no_password_so_libpq_may_read_pgpassword() -> None:
    assert database_url.parse("postgresql://bc:@db/a").password is None


def test_scrub_hides_the_password_as_is_and_encoded() -> None:
    url = database_url.parse("postgresql://bc:Zqv7%40Wx12@db/a")
    secrets = database_url.secrets(url)
    assert database_url.scrub("x Zqv7@Wx12 y Zqv7%40Wx12", secrets) == "x *** y ***"


def test_pgpassword_is_scrubbed_when_the_url_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "Zqv7@Wx12")
    assert database_url.secrets(database_url.parse("postgresql://bc@db/a")) == ("Zqv7@Wx12",)


@pytest.mark.parametrize(
    ("key", "url", "message"),
    [
        ("warehouse", "postgresql://bc:Zqv7/Wx12@db/a", "an '@' after the host"),
        ("state", "postgresql://bc:Zqv7#Wx12@db/a", "an '@' after the host"),
        ("warehouse", "Zqv7:Wx12@db/a", "not a database URL"),
        ("state", "postgresql://bc:Zqv7Wx12@db:Kp9m/a", "the port is not a number"),
        ("state", "postgresql://bc:Zqv7[Wx12@db/a", "a '[' or ']' outside an IPv6 host"),
        ("state", "mysql://bc:Zqv7Wx12@db/a", "the run store supports sqlite and postgresql"),
        ("warehouse", "duckdb://bc:Zqv7Wx12@db/a", "a DuckDB URL names a file, not a host"),
    ],
)
def test_a_malformed_url_is_a_config_error_naming_file_line_and_key(
    tmp_path: Path, key: str, url: str, message: str
) -> None:
    urls = {"warehouse": "duckdb://", "state": "sqlite:///s.db", key: url}
    path = project(tmp_path, **urls)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    line = 3 if key == "warehouse" else 5
    assert str(error.value).startswith(f"{path}:{line}: {key}.url: {message}")
    assert_no_part_of("Zqv7:Wx12:Kp9m", str(error.value), repr(error.value))


def test_opening_a_malformed_url_names_the_key_without_a_traceback() -> None:
    with pytest.raises(WarehouseError, match=r"^warehouse\.url: an '@' after the host") as error:
        open_warehouse("postgresql://bc:Zqv7/Wx12@db/a")
    assert_no_part_of("Zqv7/Wx12", str(error.value))
    with pytest.raises(StateError, match=r"^state\.url: an '@' after the host") as failed:
        RunStore.open("postgresql://bc:Zqv7?Wx12@db/a")
    assert_no_part_of("Zqv7?Wx12", str(failed.value))


@pytest.mark.parametrize("password", SPECIAL.values(), ids=SPECIAL.keys())
def test_a_variable_in_the_password_is_encoded_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    monkeypatch.setenv("WAREHOUSE_PASSWORD", password)
    (tmp_path / ".env").write_text(f"STATE_PASSWORD='{password}'\n", encoding="utf-8")
    project(
        tmp_path,
        warehouse="postgresql://bc:${WAREHOUSE_PASSWORD}@db/analytics",
        state="postgresql://${STATE_USER:-bc}:pre-${STATE_PASSWORD}@db/state",
    )
    config = load_config(tmp_path)
    assert database_url.parse(config.warehouse.url).password == password
    assert database_url.parse(config.state_url).password == f"pre-{password}"
    assert database_url.parse(config.state_url).username == "bc"
    assert_no_part_of(password, repr(config))


def test_a_variable_holding_the_whole_url_is_taken_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bc:Zqv7%2FWx12@db/analytics")
    project(tmp_path, warehouse="${DATABASE_URL}")
    assert database_url.parse(load_config(tmp_path).warehouse.url).password == "Zqv7/Wx12"


def test_variables_elsewhere_in_a_url_or_in_other_keys_are_not_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_HOST", "db.example.com:6432")
    monkeypatch.setenv("DB_NAME", "analytics")
    path = project(tmp_path, warehouse="postgresql://bc@${DB_HOST}/${DB_NAME}")
    path.write_text(
        path.read_text()
        + textwrap.dedent("""\
            alerts:
              channels:
                mail: {type: email, smtp_url: "smtp://u:${DB_HOST}@smtp.example.com",
                       from: a@example.com, to: [b@example.com]}
            """),
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    assert config.warehouse.url == "postgresql://bc@db.example.com:6432/analytics"
    assert config.alerts is not None
    mail = config.alerts.channels["mail"]
    assert "u:db.example.com:6432@" in mail.smtp_url.get_secret_value()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "password", ["abcd&efgh=ijk", "p#ss+word", "50%off", "a b?c"], ids=["amp", "hash", "pct", "sp"]
)
def test_a_variable_in_a_query_string_password_is_encoded_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    # Found by review: only the user info's ${VAR} was encoded; `?password=${PW}` with an "&"
    # split the password into a bogus connection option (named in libpq's error).
    monkeypatch.setenv("PW", password)
    project(tmp_path, warehouse="postgresql://bc@db/analytics?sslmode=disable&password=${PW}")
    url = database_url.parse(load_config(tmp_path).warehouse.url)
    assert url.query["password"] == password
    assert url.query["sslmode"] == "disable"


def test_libpq_never_names_an_option_that_may_be_a_piece_of_a_password() -> None:
    message = 'invalid connection option "efgh"'
    scrubbed = database_url.scrub(message, ())
    assert "efgh" not in scrubbed and "%26" in scrubbed
