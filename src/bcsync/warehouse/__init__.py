"""Warehouses: where a sync's model rows come from, as Arrow record batches.

``open_warehouse(url)`` picks the implementation from the URL's scheme: ``duckdb://`` is the
embedded DuckDB; anything else goes through SQLAlchemy (``postgresql://`` uses psycopg 3).
"""

from __future__ import annotations

from pathlib import Path

from bcsync.warehouse.base import Warehouse

__all__ = ["Warehouse", "open_warehouse"]


def open_warehouse(url: str, *, project_dir: Path | None = None) -> Warehouse:
    """Open the warehouse at ``url`` (already resolved against the project dir).

    ``project_dir`` is where relative file paths inside DuckDB model SQL resolve
    (``read_csv('data/x.csv')``); it defaults to the working directory.
    Raises WarehouseError when the URL cannot be opened.
    """
    if url.split("://", 1)[0] == "duckdb":
        from bcsync.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(url, project_dir=project_dir)
    from bcsync.warehouse.sqlalchemy import SqlAlchemyWarehouse

    return SqlAlchemyWarehouse(url)
