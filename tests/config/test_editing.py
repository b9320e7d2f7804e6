"""Editing bcsync.yml from the UI: round trips keep the user's file, writes are atomic and
refused over a changed file, the config model validates first, and .env gets the token."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from bcsync.config.editing.document import ConfigDocument, unified_diff, version_of
from bcsync.config.editing.envfile import set_values, token_variable
from bcsync.config.editing.loading import ConfigRefused, load_text
from bcsync.config.editing.setup_mode import load_for_setup
from bcsync.config.editing.writing import StaleVersion, replace_file
from bcsync.config.project import ModelConfig, load_config
from bcsync.destinations.bigcommerce.mapping_checks import check_mapping, suggest
from bcsync.destinations.bigcommerce.store_fields import StoreField, native_fields
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.preview import preview_model

HAND_WRITTEN = """\
# Our shop's sync. Ask Dana before changing the match!
version: 1
warehouse:
    url: duckdb:///wh.duckdb      # the nightly export

destinations:
    shop:
        type: bigcommerce
        store_hash: abc123
        access_token: ${SHOP_TOKEN}

syncs:
    # VIPs only; the rest are handled by hand
    vip:
        destination: shop
        object: customers
        model: {table: customers, primary_key: id}
        mode: upsert
        match: {column: email, field: email}
        mappings:
        -   {column: email,      field: email}
        -   {column: first_name, field: first_name}   # given name
        on_delete: nothing   # never delete anything
"""


def project(tmp_path: Path, text: str = HAND_WRITTEN) -> Path:
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as conn:
        conn.execute(
            "create table customers as select * from (values (1, 'a@x.io', 'Ada', 'gold'),"
            " (1, 'b@x.io', 'Bo', 'silver'), (null, 'c@x.io', 'Cy', 'gold')) "
            "t(id, email, first_name, tier)"
        )
    (tmp_path / ".env").write_text("# secrets\nSHOP_TOKEN=t0ken-1\nOTHER=keep me  # why\n")
    path = tmp_path / "bcsync.yml"
    path.write_text(text)
    return path


def test_a_round_trip_edit_keeps_comments_order_and_layout():
    document = ConfigDocument(HAND_WRITTEN)
    assert document.text() == HAND_WRITTEN
    vip = document.section("syncs")["vip"]
    vip["mappings"].append({"column": "tier", "field": "attributes.Tier"})
    vip["on_delete"] = "clear"
    document.set_entry("syncs", "vip", vip)
    after = document.text()
    changed = [
        line
        for line in unified_diff(HAND_WRITTEN, after).splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        "-        on_delete: nothing   # never delete anything",
        "+        -   {column: tier, field: attributes.Tier}",
        "+        on_delete: clear     # never delete anything",
    ]
    for kept in (
        "# Our shop's sync. Ask Dana before changing the match!",
        "    url: duckdb:///wh.duckdb      # the nightly export",
        "    # VIPs only; the rest are handled by hand",
        "        -   {column: email,      field: email}",
        "        -   {column: first_name, field: first_name}   # given name",
    ):
        assert kept + "\n" in after


def test_a_new_sync_is_appended_in_the_files_own_indentation():
    document = ConfigDocument(HAND_WRITTEN)
    document.set_entry(
        "syncs",
        "all",
        {
            "destination": "shop",
            "object": "customers",
            "model": {"table": "customers", "primary_key": "id"},
            "mode": "insert",
            "mappings": [{"column": "email", "field": "email"}],
        },
    )
    after = document.text()
    assert after.startswith(HAND_WRITTEN.rsplit("\n", 1)[0])
    assert after.endswith(
        "    all:\n        destination: shop\n        object: customers\n"
        "        model: {table: customers, primary_key: id}\n        mode: insert\n"
        "        mappings:\n        -   {column: email, field: email}\n"
    )


def test_a_stale_version_is_refused_and_the_file_is_left_alone(tmp_path: Path):
    path = project(tmp_path)
    read = version_of(path.read_bytes())
    path.write_text(HAND_WRITTEN + "# changed in an editor\n")
    with pytest.raises(StaleVersion, match="changed on disk"):
        replace_file(path, b"version: 1\n", expected_version=read)
    assert path.read_text().endswith("# changed in an editor\n")
    current = version_of(path.read_bytes())
    assert replace_file(path, HAND_WRITTEN.encode(), expected_version=current) == version_of(
        HAND_WRITTEN.encode()
    )
    assert path.read_text() == HAND_WRITTEN
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_invalid_edit_is_refused_by_the_config_model_naming_the_path(tmp_path: Path):
    path = project(tmp_path)
    document = ConfigDocument(HAND_WRITTEN)
    vip = document.section("syncs")["vip"]
    vip["mode"] = "merge"
    vip["mappings"].append({"column": "tier"})
    document.set_entry("syncs", "vip", vip)
    with pytest.raises(ConfigRefused) as refused:
        load_text(document.text(), path, {"SHOP_TOKEN": "x"})
    problems = {p.path: p.message for p in refused.value.problems}
    assert problems["syncs.vip.mappings[2].field"] == "field required"
    assert problems["syncs.vip.mode"].startswith("'merge' is not valid")
    assert "bcsync.yml:" in str(refused.value) and ".bcsync-check" not in str(refused.value)
    assert path.read_text() == HAND_WRITTEN
    # The valid text loads as the CLI loads it.
    config = load_text(HAND_WRITTEN, path, {"SHOP_TOKEN": "t0ken-1"})
    assert config.model_dump() == load_config(path).model_dump()


def test_env_file_gets_the_token_and_keeps_its_other_lines(tmp_path: Path):
    project(tmp_path)
    set_values(tmp_path, {"SHOP_TOKEN": "new-t0ken", "BIGCOMMERCE_X_ACCESS_TOKEN": "a b#c"})
    assert (tmp_path / ".env").read_text() == (
        "# secrets\nSHOP_TOKEN=new-t0ken\nOTHER=keep me  # why\n"
        "BIGCOMMERCE_X_ACCESS_TOKEN='a b#c'\n"
    )
    assert load_config(tmp_path).destinations["shop"].access_token.get_secret_value() == (
        "new-t0ken"
    )
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    set_values(fresh, {"A": "1"})
    assert oct((fresh / ".env").stat().st_mode & 0o777) == "0o600"


def test_the_token_variable_is_the_one_referenced_unless_the_environment_sets_it():
    assert token_variable("store", "${BIGCOMMERCE_ACCESS_TOKEN}", {}) == "BIGCOMMERCE_ACCESS_TOKEN"
    assert token_variable("eu-shop", "plain", {}) == "BIGCOMMERCE_EU_SHOP_ACCESS_TOKEN"
    environ = {"BIGCOMMERCE_ACCESS_TOKEN": "ci", "BIGCOMMERCE_STORE_ACCESS_TOKEN": "ci"}
    assert (
        token_variable("store", "${BIGCOMMERCE_ACCESS_TOKEN}", environ)
        == "BIGCOMMERCE_STORE_ACCESS_TOKEN_2"
    )


def test_a_bcsync_init_project_loads_for_setup_with_its_problems(tmp_path: Path, monkeypatch):
    from bcsync.cli.scaffold import init_project

    for name in list(os.environ):
        if name.startswith("BIGCOMMERCE_"):
            monkeypatch.delenv(name)
    init_project(tmp_path)
    loaded = load_for_setup(tmp_path)
    assert not loaded.ready
    assert any("BIGCOMMERCE_STORE_HASH is not set" in p for p in loaded.problems)
    assert list(loaded.config.syncs) == ["customers"]
    # Without any destination it still loads; a YAML error does not.
    (tmp_path / "bcsync.yml").write_text('version: 1\nwarehouse: {url: "duckdb:///:memory:"}\n')
    assert load_for_setup(tmp_path).config.destinations == {}
    (tmp_path / "bcsync.yml").write_text("version: 1\nwarehouse: [\n")
    with pytest.raises(Exception, match="YAML syntax error"):
        load_for_setup(tmp_path)


def test_preview_warns_of_null_and_duplicate_keys(tmp_path: Path):
    project(tmp_path)
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}", project_dir=tmp_path)
    try:
        shown = preview_model(
            warehouse, ModelConfig(table="customers", primary_key="id"), limit=2, key="id"
        )
        assert len(shown.rows) == 2
        assert shown.key_warnings == [
            "primary key 'id' has duplicate values in the first 2 rows: 1"
        ]
        everything = preview_model(
            warehouse, ModelConfig(table="customers", primary_key="id"), key="id"
        )
        assert everything.key_warnings == [
            "primary key 'id' has 1 null value(s) in the first 3 rows",
            "primary key 'id' has duplicate values in the first 3 rows: 1",
        ]
        assert everything.to_json()["columns"][0] == {"name": "id", "type": "int32"}
    finally:
        warehouse.close()


def test_the_type_check_says_why_a_column_does_not_fit():
    fields = {f.field: f for f in native_fields("customers")}
    fields["attributes.Loyalty Points"] = StoreField(
        "attributes.Loyalty Points", "attribute", "number", ("integer", "number")
    )
    types = {"tier": "string", "points": "int64", "email": "string"}
    wrong = check_mapping("tier", "attributes.Loyalty Points", types, fields)
    assert not wrong.ok
    assert wrong.message == "column 'tier' is text; attribute 'Loyalty Points' is a number"
    assert check_mapping("points", "attributes.Loyalty Points", types, fields).ok
    assert not check_mapping("tier", "attributes.Missing", types, fields).ok
    assert check_mapping("tier", "attributes.Missing", types, fields, store_read=False).ok
    assert not check_mapping("nope", "email", types, fields).ok
    assert suggest(["email", "first_name", "loyalty_points"], list(fields.values()), {}) == [
        ("email", "email"),
        ("first_name", "first_name"),
        ("loyalty_points", "attributes.Loyalty Points"),
    ]


def test_a_duplicated_sync_with_comments_in_its_mappings_stays_yaml():
    """A deep copy shared ruamel's comment tokens with the original: the copy, last in the
    file, came out as ``mappings:   - {…}`` (not YAML), and only on the second rendering."""
    import yaml

    text = (
        "version: 1\n"
        "syncs:\n"
        "  vip:\n"
        "    destination: store   # the one store we have\n"
        "    mappings:\n"
        "      # email is required\n"
        "      - {column: email, field: email}\n"
        "      - {column: first_name, field: first_name}\n"
    )
    document = ConfigDocument(text)
    document.copy_entry("syncs", "vip", "vip_copy")
    first, second = document.text(), document.text()
    assert first == second
    loaded = yaml.safe_load(first)
    assert loaded["syncs"]["vip_copy"] == loaded["syncs"]["vip"]
    assert "# email is required" in first and "# the one store we have" in first
    assert "      - {column: email, field: email}\n" in first.split("vip_copy:")[1]
