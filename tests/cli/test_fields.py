"""``bcsync fields``: every mappable field with its type and limits, and the README's copy of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bcsync.cli.commands import app
from bcsync.cli.fields import field_rows, markdown
from bcsync.destinations.bigcommerce.catalog import CUSTOM_FORMS, OBJECTS
from bcsync.destinations.bigcommerce.fields import parse_field

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- fields:start[^>]*-->\n(.*?)<!-- fields:end -->", re.DOTALL)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_fields_lists_every_native_field_and_custom_form(runner: CliRunner) -> None:
    result = runner.invoke(app, ["fields", "orders"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in OBJECTS["orders"]:
        assert name in result.output
    assert "metafields.<namespace>.<key>" in result.output
    assert "customers fields" not in result.output
    fees = next(line for line in result.output.splitlines() if "│ fees " in line)
    assert "JSON" in fees and "custom_fee" in fees
    status = next(line for line in result.output.splitlines() if "│ status_id " in line)
    assert "integer" in status and "Shipped" in status

    everything = runner.invoke(app, ["fields"], env={"COLUMNS": "200"})
    assert everything.exit_code == 0
    for form in ("attributes.<name>", "form_fields.<name>", "consent.<category>", "addresses"):
        assert form in everything.output
    assert "orders fields" in everything.output and "customers fields" in everything.output


def test_fields_json_gives_types_and_limits(runner: CliRunner) -> None:
    result = runner.invoke(app, ["fields", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document["objects"]) == {"customers", "orders"}
    customers = {row["field"]: row for row in document["objects"]["customers"]}
    assert customers["email"]["type"] == "string"
    assert (customers["email"]["min_length"], customers["email"]["max_length"]) == (3, 250)
    assert customers["email"]["required"] is True
    assert customers["origin_channel_id"]["create_only"] is True
    assert customers["address.city"]["type"] == "string"
    assert customers["address.city"]["max_length"] == 100
    assert "alpha-2" in customers["address.country_code"]["note"]
    assert {
        row["field"] for row in document["objects"]["customers"] if row["form"] == "custom"
    } == {form.form for form in CUSTOM_FORMS["customers"]}
    orders = {row["field"]: row for row in document["objects"]["orders"]}
    assert orders["total_inc_tax"]["type"] == "money"
    assert "4 decimals" in orders["total_inc_tax"]["limits"]
    assert orders["staff_notes"]["max_length"] == 65535
    assert orders["consignments"]["type"] == "JSON" and "pickups" in orders["consignments"]["note"]
    assert orders["date_created"]["type"] == "date-time"

    one = json.loads(runner.invoke(app, ["fields", "customers", "--json"]).output)
    assert list(one["objects"]) == ["customers"]
    assert runner.invoke(app, ["fields", "products"]).exit_code == 2


def test_fields_markdown_is_what_the_readme_holds(runner: CliRunner) -> None:
    printed = runner.invoke(app, ["fields", "--markdown"])
    assert printed.exit_code == 0
    assert printed.output == markdown()
    found = BLOCK.search(README.read_text())
    assert found is not None, "README lost its <!-- fields:start --> … <!-- fields:end --> block"
    assert found.group(1) == markdown(), (
        "README's field table differs from the catalogue: paste `bcsync fields --markdown` "
        "between its fields:start and fields:end markers"
    )


def test_every_listed_field_is_one_a_mapping_can_name() -> None:
    examples = {"<name>": "Tier", "<namespace>.<key>": "warehouse.ltv", "<category>": "analytics"}
    for name in OBJECTS:
        for row in field_rows(name):
            field = row["field"]
            if row["form"] == "native" and field.startswith("address."):
                assert parse_field(field).kind == "address", field
                continue
            if row["form"] == "native":
                assert parse_field(field).kind == "native" and field in OBJECTS[name]
                continue
            for placeholder, example in examples.items():
                field = field.replace(placeholder, example)
            assert parse_field(field).kind != "native", field
