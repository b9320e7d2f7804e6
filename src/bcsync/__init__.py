"""bcsync: keep BigCommerce customers and orders in step with a SQL model in your warehouse."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
