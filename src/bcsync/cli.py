"""The ``bcsync`` command line: a thin Typer layer over the engine. Only this module prints."""

from __future__ import annotations

import typer

from bcsync import __version__

app = typer.Typer(
    name="bcsync",
    help="Keep BigCommerce customers and orders in step with a SQL model.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """bcsync: reverse ETL from your warehouse to BigCommerce."""


@app.command()
def version() -> None:
    """Print the bcsync version."""
    typer.echo(__version__)


def main() -> None:
    app()
