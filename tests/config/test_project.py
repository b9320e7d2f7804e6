"""bcsync.yml: loading, interpolation, validation and errors that point at the line."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from bcsync.config.project import ProjectConfig, load_config
from bcsync.errors import ConfigError

VALID = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
destinations:
  store:
    type: bigcommerce
    store_hash: ${STORE_HASH}
    access_token: ${ACCESS_TOKEN}
syncs:
  vip_customers:
    destination: store
    object: customers
    model:
      sql: select * from customers where lifetime_value > 500
      primary_key: customer_key
    mode: upsert
    match: {column: email, field: email}
    mappings:
      - {column: first_name, field: first_name}
      - {column: tier, field: "attributes.Loyalty Tier"}
      - {column: email, field: email}
      - {column: email, field: "metafields.warehouse.email"}
"""


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_HASH", "abc123")
    monkeypatch.setenv("ACCESS_TOKEN", "tok-SECRET-1234")


def write(directory: Path, text: str, name: str = "bcsync.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, marker: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``marker``."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line]
    return found[occurrence - 1]


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


def test_a_valid_project_loads_with_defaults_and_interpolated_values(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    config = load_config(tmp_path)
    assert config.project_dir == tmp_path.resolve()
    assert config.config_path == tmp_path.resolve() / "bcsync.yml"
    store = config.destinations["store"]
    assert store.store_hash == "abc123"
    assert store.access_token.get_secret_value() == "tok-SECRET-1234"
    assert store.api_url == "https://api.bigcommerce.com"
    sync = config.sync("vip_customers")
    assert sync.name == "vip_customers"
    assert sync.model.kind == "sql"
    assert sync.model.query == "select * from customers where lifetime_value > 500"
    assert sync.match is not None and sync.match.field == "email"
    assert [m.field for m in sync.mappings][-1] == "metafields.warehouse.email"
    assert (sync.on_delete, sync.max_delete_fraction, sync.create_missing_attributes) == (
        "nothing",
        0.5,
        False,
    )
    assert config.state.url == "sqlite:///.bcsync/state.db"
    assert config.state_url == f"sqlite:///{tmp_path.resolve()}/.bcsync/state.db"
    assert (
        config.resolve_url(config.warehouse.url)
        == f"duckdb:///{tmp_path.resolve()}/warehouse.duckdb"
    )
    assert config.debugger.retention_days == 30
    assert config.debugger.max_body_bytes == 65536
    assert config.alerts is None


def test_config_is_frozen(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    config = load_config(tmp_path / "bcsync.yml")
    with pytest.raises(ValueError, match="frozen"):
        config.sync("vip_customers").mode = "insert"  # type: ignore[misc]


def test_the_current_directory_is_the_default_and_messages_use_a_relative_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, VALID.replace("mode: upsert", "mode: upsret"))
    monkeypatch.chdir(tmp_path)
    message = config_error(None)  # type: ignore[arg-type]
    assert message.startswith(f"bcsync.yml:{line_of(path, 'mode:')}: syncs.vip_customers.mode: ")
    assert "'insert', 'update' or 'upsert'" in message


def test_no_project_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no project file at .*bcsync init"):
        load_config(tmp_path)


def test_dotenv_is_read_without_touching_the_environment_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORE_HASH")
    write(tmp_path, "STORE_HASH=from-dotenv\nACCESS_TOKEN=from-dotenv-token\n", ".env")
    write(tmp_path, VALID)
    config = load_config(tmp_path)
    assert config.destinations["store"].store_hash == "from-dotenv"
    assert config.destinations["store"].access_token.get_secret_value() == "tok-SECRET-1234"
    assert "STORE_HASH" not in os.environ


def test_a_missing_variable_names_the_variable_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCESS_TOKEN")
    path = write(tmp_path, VALID)
    message = config_error(path)
    line = line_of(path, "access_token")
    assert message == (
        f"{path}:{line}: destinations.store.access_token: "
        "environment variable ACCESS_TOKEN is not set (nor in .env)"
    )


def test_defaults_and_escapes_in_interpolation(tmp_path: Path) -> None:
    text = VALID.replace(
        "    access_token: ${ACCESS_TOKEN}\n",
        "    access_token: ${ACCESS_TOKEN}\n    api_url: ${UNSET_API_URL:-http://127.0.0.1:8787/}\n",
    ).replace("lifetime_value > 500", "note = '$${NOT_A_VAR}' and code = '${STORE_HASH}'")
    write(tmp_path, text)
    config = load_config(tmp_path)
    assert config.destinations["store"].api_url == "http://127.0.0.1:8787"
    assert config.sync("vip_customers").model.query == (
        "select * from customers where note = '${NOT_A_VAR}' and code = 'abc123'"
    )


def test_a_missing_mapping_field_reports_the_exact_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID.replace(
            "{column: email, field: email}\n      - {column: email,",
            "{column: email}\n      - {column: email,",
        ),
    )
    message = config_error(path)
    line = line_of(path, "- {column: email}")
    assert message == f"{path}:{line}: syncs.vip_customers.mappings[2].field: field required"


def test_an_unknown_key_is_caught_with_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path, VALID.replace("    mode: upsert", "    mode: upsert\n    on_delet: clear")
    )
    message = config_error(path)
    line = line_of(path, "on_delet:")
    assert message == (
        f"{path}:{line}: syncs.vip_customers.on_delet: unknown key (did you mean 'on_delete'?)"
    )


def test_several_errors_are_reported_together_in_file_order(tmp_path: Path) -> None:
    text = VALID.replace("version: 1", "version: 2").replace(
        "      primary_key: customer_key\n",
        "      primary_key: customer_key\n    max_delete_fraction: 2\n",
    )
    path = write(tmp_path, text)
    lines = config_error(path).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:1: version: ")
    assert lines[1].startswith(f"{path}:{line_of(path, 'max_delete_fraction')}: ")
    assert (
        "syncs.vip_customers.max_delete_fraction: input should be less than or equal to 1"
        in (lines[1])
    )


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("    object: customers", "    object: [customers"))
    message = config_error(path)
    assert message.startswith(f"{path}:")
    assert "YAML syntax error" in message


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("    mode: upsert", "    mode: upsert\n    mode: insert"))
    message = config_error(path)
    first = line_of(path, "mode:")
    assert message == (
        f"{path}:{first + 1}: syncs.vip_customers.mode: "
        f"duplicate key (first written on line {first})"
    )


@pytest.mark.parametrize(
    ("change", "marker", "expected"),
    [
        (
            ("destination: store", "destination: shop"),
            "destination: shop",
            "syncs.vip_customers.destination: unknown destination 'shop' (defined: store)",
        ),
        (
            ("    match: {column: email, field: email}\n", ""),
            "vip_customers:",
            "syncs.vip_customers.match: required for mode 'upsert'",
        ),
        (
            (
                '{column: tier, field: "attributes.Loyalty Tier"}',
                "{column: tier, field: first_name}",
            ),
            "{column: tier, field: first_name}",
            "syncs.vip_customers.mappings[1].field: 'first_name' is already mapped by mappings[0]",
        ),
        (
            ("      sql: select", "      table: analytics.customers\n      sql: select"),
            "model:",
            "syncs.vip_customers.model: give exactly one of sql, file or table (found: sql, table)",
        ),
        (
            ("      sql: select * from customers where lifetime_value > 500\n", ""),
            "model:",
            "syncs.vip_customers.model: give exactly one of sql, file or table (found: none)",
        ),
        (
            ("type: bigcommerce", "type: shopify"),
            "type: shopify",
            "destinations.store.type: 'shopify' is not valid: must be 'bigcommerce'",
        ),
        (
            ("vip_customers:", "vip/customers:"),
            "vip/customers:",
            "syncs.vip/customers: a sync name may use only letters, digits, '_', '-' and '.'",
        ),
        (
            ("    match: {column: email, field: email}", "    match: email"),
            "match: email",
            "syncs.vip_customers.match: expected a mapping of keys to values",
        ),
        (
            ("    object: customers\n", ""),
            "vip_customers:",
            "syncs.vip_customers.object: field required",
        ),
    ],
)
def test_cross_field_checks_point_at_the_key(
    tmp_path: Path, change: tuple[str, str], marker: str, expected: str
) -> None:
    assert change[0] in VALID
    path = write(tmp_path, VALID.replace(*change))
    assert config_error(path) == f"{path}:{line_of(path, marker)}: {expected}"


@pytest.mark.parametrize(
    ("change", "marker", "expected"),
    [
        (
            ("    mappings:", "    on_delete: obliterate\n    mappings:"),
            "on_delete:",
            "syncs.vip_customers.on_delete: 'obliterate' is not valid: "
            "must be 'nothing', 'clear' or 'delete'",
        ),
        (
            ("mode: upsert", "mode: upsret"),
            "mode:",
            "syncs.vip_customers.mode: 'upsret' is not valid: "
            "must be 'insert', 'update' or 'upsert' (did you mean 'upsert'?)",
        ),
        (
            ("object: customers", "object: products"),
            "object:",
            "syncs.vip_customers.object: 'products' is not valid: must be 'customers' or 'orders'",
        ),
        (
            ("version: 1", "version: 2"),
            "version:",
            "version: 2 is not valid: must be 1",
        ),
        (
            ("    mappings:", "    on_delete: no\n    mappings:"),
            "on_delete:",
            "syncs.vip_customers.on_delete: false is not valid: "
            "must be 'nothing', 'clear' or 'delete' (YAML reads an unquoted yes/no/on/off as "
            "true/false)",
        ),
        (
            ("    mappings:", "    on_delete: [clear]\n    mappings:"),
            "on_delete:",
            "syncs.vip_customers.on_delete: a list is not valid: "
            "must be 'nothing', 'clear' or 'delete'",
        ),
    ],
)
def test_a_value_outside_the_choices_is_named_with_the_choices(
    tmp_path: Path, change: tuple[str, str], marker: str, expected: str
) -> None:
    assert change[0] in VALID
    path = write(tmp_path, VALID.replace(*change, 1))
    assert config_error(path) == f"{path}:{line_of(path, marker)}: {expected}"


def test_a_long_refused_choice_is_shortened(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("mode: upsert", "mode: " + "x" * 200))
    message = config_error(path)
    assert "'" + "x" * 59 + "…' is not valid" in message
    assert "x" * 61 not in message


def test_a_mapping_instead_of_a_list_is_named(tmp_path: Path) -> None:
    text = VALID[: VALID.index("    mappings:")] + "    mappings: {column: a, field: b}\n"
    path = write(tmp_path, text)
    assert config_error(path) == (
        f"{path}:{line_of(path, 'mappings:')}: syncs.vip_customers.mappings: expected a list"
    )


def test_insert_ignores_match_and_the_same_column_may_feed_several_fields(tmp_path: Path) -> None:
    write(tmp_path, VALID.replace("mode: upsert", "mode: insert"))
    sync = load_config(tmp_path).sync("vip_customers")
    assert sync.mode == "insert"
    assert sync.match is None
    assert [m.column for m in sync.mappings].count("email") == 2


def test_a_model_file_is_read_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vip.sql").write_text("select 1 as customer_key\n")
    write(
        tmp_path,
        VALID.replace(
            "sql: select * from customers where lifetime_value > 500", "file: models/vip.sql"
        ),
    )
    model = load_config(tmp_path).sync("vip_customers").model
    assert model.kind == "file"
    assert model.file == tmp_path.resolve() / "models" / "vip.sql"
    assert model.query == "select 1 as customer_key\n"


def test_a_missing_model_file_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID.replace(
            "sql: select * from customers where lifetime_value > 500", "file: models/nope.sql"
        ),
    )
    message = config_error(path)
    assert message.startswith(f"{path}:{line_of(path, 'file:')}: syncs.vip_customers.model.file: ")
    assert "model file not found" in message


def test_locate_and_error_point_at_lines_for_later_checks(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    config = load_config(path)
    tier = line_of(path, "Loyalty Tier")
    assert config.locate("syncs", "vip_customers", "mappings", 1, "field") == f"{path}:{tier}"
    # An unwritten key falls back to its nearest written ancestor.
    assert config.locate("syncs", "vip_customers", "on_delete") == (
        f"{path}:{line_of(path, 'vip_customers:')}"
    )
    error = config.error(("syncs", "vip_customers", "mappings", 1, "field"), "no such attribute")
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"{path}:{tier}: syncs.vip_customers.mappings[1].field: no such attribute"
    )


def test_unknown_sync_lists_the_defined_ones(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    with pytest.raises(ConfigError, match=r"unknown sync 'nope' \(defined: vip_customers\)"):
        load_config(tmp_path).sync("nope")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.bcsync/state.db", "sqlite:///{dir}/.bcsync/state.db"),
        ("duckdb:///data/w.duckdb?threads=2", "duckdb:///{dir}/data/w.duckdb?threads=2"),
        ("sqlite:////abs/state.db", "sqlite:////abs/state.db"),
        ("duckdb:///:memory:", "duckdb:///:memory:"),
        ("duckdb://", "duckdb://"),
        ("postgresql://u:p@host/db", "postgresql://u:p@host/db"),
    ],
)
def test_resolve_url(tmp_path: Path, url: str, expected: str) -> None:
    write(tmp_path, VALID)
    config = load_config(tmp_path)
    assert config.resolve_url(url) == expected.format(dir=tmp_path.resolve())


ALERTS = """\
alerts:
  channels:
    team:   {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
    oncall: {type: pagerduty, routing_key: "${PAGERDUTY_ROUTING_KEY}"}
    phones:
      type: sms
      account_sid: AC1
      auth_token: "${TWILIO_AUTH_TOKEN}"
      from: "+15550001111"
      to: ["+15550002222"]
    mail:
      type: email
      smtp_url: "smtp://user:${SMTP_PASSWORD}@smtp.example.com:587"
      from: bcsync@example.com
      to: [data-team@example.com]
  defaults:
    channels: [team]
    rejected_rows: {warning: 0.01, critical: 0.10}
debugger: {retention_days: 7}
"""
SYNC_ALERTS = "    alerts: {channels: [team, oncall], rejected_rows: {critical: 0.05}}\n"
SECRETS = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.test/SLACK-SECRET",
    "PAGERDUTY_ROUTING_KEY": "PD-SECRET-KEY",
    "TWILIO_AUTH_TOKEN": "TWILIO-SECRET",
    "SMTP_PASSWORD": "SMTP-SECRET-PW",
}


@pytest.fixture
def alert_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("alert_secrets")
def test_alerts_load_and_sync_overrides_merge_with_defaults(tmp_path: Path) -> None:
    write(tmp_path, VALID + SYNC_ALERTS + ALERTS.replace("debugger", "debugger"))
    config = load_config(tmp_path)
    assert config.alerts is not None
    channels = config.alerts.channels
    assert {name: channel.type for name, channel in channels.items()} == {
        "team": "slack",
        "oncall": "pagerduty",
        "phones": "sms",
        "mail": "email",
    }
    assert channels["phones"].from_ == "+15550001111"  # type: ignore[union-attr]
    assert channels["oncall"].events_url == "https://events.pagerduty.com/v2/enqueue"  # type: ignore[union-attr]
    policy = config.alert_policy("vip_customers")
    assert policy.channels == ("team", "oncall")
    assert (policy.rejected_rows.warning, policy.rejected_rows.critical) == (0.01, 0.05)
    assert config.debugger.retention_days == 7
    shown = repr(config) + str(config)
    for secret in (*SECRETS.values(), "tok-SECRET-1234"):
        assert secret not in shown


@pytest.mark.usefixtures("alert_secrets")
@pytest.mark.parametrize(
    ("change", "marker", "expected"),
    [
        (
            ("channels: [team]", "channels: [team, pager]"),
            "channels: [team, pager]",
            "alerts.defaults.channels[1]: "
            "unknown channel 'pager' (defined: mail, oncall, phones, team)",
        ),
        (
            ("type: pagerduty", "type: pagerdooty"),
            "pagerdooty",
            "alerts.channels.oncall.type: 'pagerdooty' is not valid: "
            "must be 'slack', 'pagerduty', 'sms' or 'email' (did you mean 'pagerduty'?)",
        ),
        (
            ('from: "+15550001111"', 'from: "555-0001"'),
            "555-0001",
            "alerts.channels.phones.from: string should match pattern '^\\+[1-9][0-9]{6,14}$'",
        ),
        (
            ("{warning: 0.01, critical: 0.10}", "{warning: 0.2, critical: 0.10}"),
            "warning: 0.2",
            "alerts.defaults.rejected_rows.warning: must not be above critical",
        ),
        (
            ("smtp://user", "http://user"),
            "smtp_url:",
            "alerts.channels.mail.smtp_url: must be a smtp:// or smtps:// URL",
        ),
    ],
)
def test_alert_errors(tmp_path: Path, change: tuple[str, str], marker: str, expected: str) -> None:
    assert change[0] in ALERTS
    path = write(tmp_path, VALID + ALERTS.replace(*change))
    message = config_error(path)
    assert message == f"{path}:{line_of(path, marker)}: {expected}"
    for secret in SECRETS.values():
        assert secret not in message


@pytest.mark.usefixtures("alert_secrets")
def test_a_sync_may_not_name_an_undefined_channel(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + SYNC_ALERTS.replace("oncall", "sms") + ALERTS)
    assert config_error(path) == (
        f"{path}:{line_of(path, 'rejected_rows: {critical')}: "
        "syncs.vip_customers.alerts.channels[1]: "
        "unknown channel 'sms' (defined: mail, oncall, phones, team)"
    )


@pytest.mark.parametrize(
    "token_line",
    [
        "    access_token: {value: tok-SECRET-1234}",  # wrong type
        "    access_token: tok-SECRET-1234: oops",  # YAML syntax error on the token's line
        "    access_token: ${ACCESS_TOKEN}\n    acess_token: tok-SECRET-1234",  # typo'd key
    ],
)
def test_errors_on_a_secret_line_never_show_the_secret(tmp_path: Path, token_line: str) -> None:
    path = write(tmp_path, VALID.replace("    access_token: ${ACCESS_TOKEN}", token_line))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "access_token" in str(error.value) or "YAML syntax error" in str(error.value)
    for text in (str(error.value), repr(error.value)):
        assert "tok-SECRET-1234" not in text
        assert "SECRET" not in text


def test_a_warehouse_password_stays_out_of_the_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "PG-SECRET-PW")
    write(
        tmp_path,
        VALID.replace(
            "duckdb:///warehouse.duckdb", "postgresql://bc:${PGPASSWORD}@db.example.com/analytics"
        ),
    )
    config = load_config(tmp_path)
    assert config.warehouse.url == "postgresql://bc:PG-SECRET-PW@db.example.com/analytics"
    assert "PG-SECRET-PW" not in repr(config)


def test_the_loader_fills_in_project_dir_and_users_cannot(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "project_dir: /elsewhere\n")
    assert config_error(path) == f"{path}:{line_of(path, 'project_dir')}: project_dir: unknown key"


def test_a_config_can_be_built_in_python_for_tests_of_other_modules(tmp_path: Path) -> None:
    config = ProjectConfig.model_validate(
        {
            "version": 1,
            "warehouse": {"url": "duckdb://"},
            "destinations": {"s": {"type": "bigcommerce", "store_hash": "h", "access_token": "t"}},
            "syncs": {
                "c": {
                    "name": "c",
                    "destination": "s",
                    "object": "customers",
                    "model": {"sql": "select 1 as id", "primary_key": "id"},
                    "mode": "insert",
                    "mappings": [{"column": "id", "field": "email"}],
                }
            },
            "project_dir": tmp_path,
            "config_path": tmp_path / "bcsync.yml",
        }
    )
    assert config.sync("c").mode == "insert"
    assert config.locate("syncs", "c") == str(tmp_path / "bcsync.yml")
