"""Shared fixtures live in tests/fixtures/<one concept>.py and are loaded as plugins here."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.postgres_roles",
    "tests.fixtures.contract",
    "tests.fixtures.emulator",
    "tests.fixtures.projects",
    "tests.fixtures.web",
]
