"""Every run store test runs on SQLite (a file under tmp_path) and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bcsync.state import RunStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/.bcsync/state.db"
    # Plain postgresql:// as a user would write it in bcsync.yml (the store picks psycopg 3).
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def store(store_url: str) -> Iterator[RunStore]:
    with RunStore.open(store_url) as opened:
        yield opened
