"""`bcsync init`: the scaffolded project loads and its model reads from the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcsync.cli.scaffold import init_project
from bcsync.config.project import load_config
from bcsync.errors import ConfigError
from bcsync.warehouse import open_warehouse

ENV = ("BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_ACCESS_TOKEN", "BIGCOMMERCE_API_URL")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_init_writes_a_project_that_loads_once_the_variables_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "shop"
    written = init_project(project)
    assert {path.relative_to(project).as_posix() for path in written} == {
        "bcsync.yml",
        "models/customers.sql",
        "data/customers.csv",
        ".env.example",
        ".gitignore",
    }
    with pytest.raises(ConfigError, match="BIGCOMMERCE_STORE_HASH is not set"):
        load_config(project)

    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "token")
    config = load_config(project)
    store = config.destinations["store"]
    assert store.api_url == "https://api.bigcommerce.com"
    sync = config.sync("customers")
    assert (sync.object, sync.mode, sync.model.kind) == ("customers", "upsert", "file")

    monkeypatch.setenv("BIGCOMMERCE_API_URL", "http://127.0.0.1:8787")
    assert load_config(project).destinations["store"].api_url == "http://127.0.0.1:8787"


def test_the_scaffolded_model_runs_against_its_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_project(tmp_path)
    # .env.example copied to .env and filled in, as the comments say; empty API URL = default.
    env = (tmp_path / ".env.example").read_text()
    env = env.replace("BIGCOMMERCE_STORE_HASH=", "BIGCOMMERCE_STORE_HASH=abc123")
    env = env.replace("BIGCOMMERCE_ACCESS_TOKEN=", "BIGCOMMERCE_ACCESS_TOKEN=token")
    (tmp_path / ".env").write_text(env)
    monkeypatch.chdir("/")  # relative file paths resolve against the project, not the cwd
    config = load_config(tmp_path)
    assert config.destinations["store"].api_url == "https://api.bigcommerce.com"
    sync = config.sync("customers")
    warehouse = open_warehouse(
        config.resolve_url(config.warehouse.url), project_dir=config.project_dir
    )
    try:
        rows = warehouse.stream(sync.model, sync=sync.name).read_all().to_pylist()
    finally:
        warehouse.close()
    assert [row["email"] for row in rows] == [
        "ada@example.com",
        "grace@example.com",
        "alan@example.com",
    ]
    columns = set(rows[0])
    assert sync.model.primary_key in columns
    assert {m.column for m in sync.mappings} <= columns


def test_init_refuses_to_overwrite_an_existing_project(tmp_path: Path) -> None:
    (tmp_path / "bcsync.yml").write_text("version: 1\n")
    with pytest.raises(ConfigError, match="already exists"):
        init_project(tmp_path)
    assert (tmp_path / "bcsync.yml").read_text() == "version: 1\n"
    assert not (tmp_path / "models").exists()


def test_init_keeps_other_files_and_extends_gitignore(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "customers.sql").write_text("select 42 as customer_id\n")
    (tmp_path / ".gitignore").write_text("__pycache__/\n.env")
    written = init_project(tmp_path)
    assert tmp_path / "models" / "customers.sql" not in written
    assert (tmp_path / "models" / "customers.sql").read_text() == "select 42 as customer_id\n"
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["__pycache__/", ".env"]
    assert lines.count(".env") == 1
    assert ".bcsync/" in lines
