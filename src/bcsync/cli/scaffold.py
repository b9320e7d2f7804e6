"""``bcsync init``: write a small project that works as it stands.

The project syncs a sample CSV of customers (read by an in-memory DuckDB) into a BigCommerce
store whose credentials come from the environment or ``.env``. Existing files other than
``bcsync.yml`` are left as they are; ``.gitignore`` only gains the lines it lacks.
"""

from __future__ import annotations

from pathlib import Path

from bcsync.config.project import CONFIG_FILE
from bcsync.errors import ConfigError

PROJECT_FILE = """\
# bcsync project: keep BigCommerce in step with a SQL model.
#   bcsync check            validate this file, the warehouse and the store credentials
#   bcsync plan customers   what the next run would send (sends nothing)
#   bcsync run customers    sync it
# ${VAR} is read from the environment, or from .env next to this file (see .env.example).
version: 1

warehouse:
  # DuckDB in memory, reading files; relative paths are relative to this directory.
  # A database file: duckdb:///warehouse.duckdb    PostgreSQL: postgresql://user:${PGPASSWORD}@host/db
  url: "duckdb:///:memory:"

# state:
#   url: sqlite:///.bcsync/state.db   # run history (the default); postgresql://... to share it

destinations:
  store:
    type: bigcommerce
    store_hash: ${BIGCOMMERCE_STORE_HASH}
    access_token: ${BIGCOMMERCE_ACCESS_TOKEN}
    # `bcsync emulator` runs a local fake store; put the URL it prints in BIGCOMMERCE_API_URL.
    api_url: ${BIGCOMMERCE_API_URL:-https://api.bigcommerce.com}

syncs:
  customers:
    destination: store
    object: customers                  # customers | orders
    model:
      file: models/customers.sql       # or  sql: select ...   or  table: analytics.customers
      primary_key: customer_id         # unique and not null; identifies a row between runs
    mode: upsert                       # insert | update | upsert
    match: {column: email, field: email}   # find existing customers by email (or id)
    mappings:
      - {column: email,      field: email}
      - {column: first_name, field: first_name}
      - {column: last_name,  field: last_name}
      - {column: phone,      field: phone}
      # - {column: tier,     field: "attributes.Loyalty Tier"}    # a customer attribute
      # - {column: ltv,      field: "metafields.warehouse.ltv"}   # a metafield namespace.key
    on_delete: nothing                 # nothing | clear | delete, for rows that leave the model
"""

MODEL_SQL = """\
-- One row per customer to keep in BigCommerce. Any DuckDB SQL works here:
-- read_csv / read_parquet on files, or tables of a DuckDB/PostgreSQL warehouse.
select
    customer_id,
    lower(trim(email)) as email,
    first_name,
    last_name,
    phone
from read_csv('data/customers.csv')
"""

SAMPLE_CSV = """\
customer_id,email,first_name,last_name,phone
1,ada@example.com,Ada,Lovelace,+44 20 7946 0001
2,grace@example.com,Grace,Hopper,+1 555 0100
3,alan@example.com,Alan,Turing,
"""

ENV_EXAMPLE = """\
# Copy to .env (never commit .env) and fill in. The real environment wins over .env.
BIGCOMMERCE_STORE_HASH=
BIGCOMMERCE_ACCESS_TOKEN=
# Leave empty for the real API; `bcsync emulator` prints a local URL to use instead.
BIGCOMMERCE_API_URL=
"""

GITIGNORE_LINES = (".bcsync/", ".env")


def init_project(directory: Path) -> list[Path]:
    """Write a new project into ``directory`` (created if needed); return the files written.

    Raises ConfigError if ``directory`` already has a ``bcsync.yml``.
    """
    directory = Path(directory)
    config = directory / CONFIG_FILE
    if config.exists():
        raise ConfigError(f"{config} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for relative, text in (
        (CONFIG_FILE, PROJECT_FILE),
        ("models/customers.sql", MODEL_SQL),
        ("data/customers.csv", SAMPLE_CSV),
        (".env.example", ENV_EXAMPLE),
    ):
        path = directory / relative
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if _ensure_gitignore(directory / ".gitignore"):
        written.append(directory / ".gitignore")
    return written


def _ensure_gitignore(path: Path) -> bool:
    """Add the lines bcsync needs ignored; True if the file changed."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        return False
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    path.write_text(prefix + "# bcsync\n" + "\n".join(missing) + "\n", encoding="utf-8")
    return True
