"""Editing bcsync.yml and .env, attacked: files written by other editors (CRLF, anchors, merge
keys, flow style, comments everywhere), values that would inject, writes that fail halfway."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import dotenv
import pytest

from bcsync.config.editing.document import ConfigDocument, _parsed
from bcsync.config.editing.envfile import set_values
from bcsync.config.editing.writing import replace_file
from bcsync.errors import ConfigError

SYNC = {
    "destination": "shop",
    "object": "customers",
    "model": {"table": "customers", "primary_key": "id"},
    "mode": "upsert",
    "match": {"column": "email", "field": "email"},
    "mappings": [{"column": "email", "field": "email"}],
}

WITH_ANCHORS = """\
# comment at the top
syncs:  # comment after a key
  base: &base   # the shared part
    destination: shop   # where
    object: customers
    mode: upsert
    mappings: [{column: email, field: email}]   # flow sequence
  # comment between syncs
  eu:
    <<: *base
    model: {table: eu, primary_key: id}   # flow mapping
# comment at the end
"""


def test_crlf_files_stay_crlf():
    text = WITH_ANCHORS.replace("\n", "\r\n")
    document = ConfigDocument(text)
    document.set_entry("syncs", "new", SYNC)
    after = document.text()
    assert after.count("\n") == after.count("\r\n")
    assert after.startswith("# comment at the top\r\nsyncs:  # comment after a key\r\n")
    assert _parsed(after)["syncs"]["new"] == SYNC


def test_anchors_merge_keys_flow_style_and_comments_survive_an_edit_of_another_sync():
    document = ConfigDocument(WITH_ANCHORS)
    document.set_entry("syncs", "new", SYNC)
    after = document.text()
    for line in WITH_ANCHORS.splitlines():
        assert line in after.splitlines(), line
    parsed = _parsed(after)["syncs"]
    assert parsed["eu"]["destination"] == "shop"  # still through the merge key
    assert parsed["new"] == SYNC


def test_editing_a_sync_built_on_a_merge_key_keeps_what_it_inherits():
    document = ConfigDocument(WITH_ANCHORS)
    eu = _parsed(WITH_ANCHORS)["syncs"]["eu"] | {"mode": "update"}
    document.set_entry("syncs", "eu", eu)
    after = _parsed(document.text())["syncs"]
    assert after["eu"] == eu
    assert after["base"]["mode"] == "upsert"  # the anchor's own sync unchanged


def test_duplicating_or_deleting_an_anchored_sync_keeps_its_aliases_meaning():
    copied = ConfigDocument(WITH_ANCHORS)
    copied.copy_entry("syncs", "base", "base2")
    after = _parsed(copied.text())["syncs"]
    assert after["base2"] == after["base"]
    assert after["eu"]["destination"] == "shop"
    removed = ConfigDocument(WITH_ANCHORS)
    removed.remove_entry("syncs", "base")
    after = _parsed(removed.text())["syncs"]
    assert list(after) == ["eu"]
    assert after["eu"]["mode"] == "upsert"


def test_values_that_look_like_yaml_are_written_as_plain_strings():
    document = ConfigDocument("syncs:\n  a:\n    destination: shop\n")
    tricky = {
        "sql": "select 1 as id -- a: b\n# not a comment\n",
        "colon": "a: b",
        "hash": "x # y",
        "anchor": "&a",
        "alias": "*a",
        "tag": "!!python/object/apply:os.system ['id']",
        "bool": "yes",
        "null": "~",
        "number": "007",
        "braces": "{a: 1}",
        "quote": "'\"",
    }
    document.set_entry("syncs", "a", tricky)
    assert _parsed(document.text())["syncs"]["a"] == tricky


def test_a_file_that_is_not_yaml_is_refused_with_its_line():
    with pytest.raises(ConfigError, match=r"bcsync.yml:3: YAML syntax error"):
        ConfigDocument("syncs:\n  a: 1\n\t- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        ConfigDocument("- a\n- b\n")


def test_env_keeps_crlf_and_other_lines_and_becomes_owner_only(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_bytes(b"# ours\r\nexport T=old\r\nOTHER='x' # c\r\nT=again\r\nLAST=1")
    env.chmod(0o644)
    set_values(tmp_path, {"T": "new", "N": "v"})
    assert env.read_bytes() == b"# ours\r\nT=new\r\nOTHER='x' # c\r\nLAST=1\r\nN=v\r\n"
    assert dotenv.dotenv_values(env) == {"T": "new", "OTHER": "x", "LAST": "1", "N": "v"}
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "value",
    ["a\nINJECTED=1", "a\rINJECTED=1", "a'b", "a\\", "a\\\\b", "x${HOME}", "a\x00b", "a\tb"],
)
def test_an_env_value_python_dotenv_would_misread_is_refused_unquoted(tmp_path: Path, value: str):
    (tmp_path / ".env").write_text("KEEP=1\n")
    with pytest.raises(ConfigError) as refused:
        set_values(tmp_path, {"T": value})
    assert value not in str(refused.value)
    assert (tmp_path / ".env").read_text() == "KEEP=1\n"


@pytest.mark.parametrize("value", ["a#b", 'a"b', "a b", "a$b", "é", "a=b", "#", "x'"[:1]])
def test_an_env_value_is_read_back_exactly(tmp_path: Path, value: str):
    set_values(tmp_path, {"T": value})
    assert dotenv.dotenv_values(tmp_path / ".env") == {"T": value}


def test_a_write_that_fails_leaves_the_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "bcsync.yml"
    path.write_text("version: 1\n")

    def fails(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fails)
    with pytest.raises(OSError):
        replace_file(path, b"version: 2\n")
    assert path.read_text() == "version: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bcsync.yml"]
