"""The customers table: records, the id and email indexes, and the API representation.

Lookups by id and email are dictionary hits, so ``id:in`` / ``email:in`` cost O(k) even with
100 000 customers. Emails are indexed case-folded; with ``email_case_insensitive`` off, a lookup
also compares the exact spelling.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from bcsync.emulator.core import Emulator
from bcsync.emulator.pagination import iso_z, now_utc

STRING_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "notes",
    "tax_exempt_category",
)
ADDRESS_STRINGS = (
    "first_name",
    "last_name",
    "company",
    "address1",
    "address2",
    "city",
    "state_or_province",
    "postal_code",
    "country_code",
    "phone",
)
INCLUDES = frozenset({"addresses", "attributes", "formfields", "storecredit"})

# Country names for the codes tests use; others come back as the code itself.
COUNTRIES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom", "AU": "Australia",
             "DE": "Germany", "FR": "France", "NL": "Netherlands"}  # fmt: skip


class CustomerTable:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.reset()

    def reset(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.by_email: dict[str, set[int]] = {}
        self.next_id = 1
        self.next_address_id = 1

    # -- lookups -----------------------------------------------------------------------------
    def exists(self, customer_id: int) -> bool:
        return customer_id in self.rows

    def get(self, customer_id: int) -> dict[str, Any] | None:
        return self.rows.get(customer_id)

    def ids_with_email(self, email: str) -> list[int]:
        """Ids of customers whose email matches (case rule from the settings)."""
        candidates = self.by_email.get(email.casefold(), set())
        if self.emu.settings.email_case_insensitive:
            return sorted(candidates)
        return sorted(i for i in candidates if self.rows[i]["email"] == email)

    def email_taken(self, email: str, except_id: int | None = None) -> bool:
        return any(i != except_id for i in self.ids_with_email(email))

    # -- writes ------------------------------------------------------------------------------
    def insert(self, item: dict[str, Any]) -> dict[str, Any]:
        """Store a validated create item; returns the record."""
        now = now_utc()
        row: dict[str, Any] = {name: item.get(name, "") for name in STRING_FIELDS}
        row.update(
            id=self.next_id,
            registration_ip_address="",
            customer_group_id=item.get("customer_group_id", 0),
            date_created=now,
            date_modified=now,
            force_password_reset=bool(
                (item.get("authentication") or {}).get("force_password_reset", False)
            ),
            accepts_product_review_abandoned_cart_emails=item.get(
                "accepts_product_review_abandoned_cart_emails", False
            ),
            origin_channel_id=item.get("origin_channel_id", 1),
            channel_ids=item.get("channel_ids"),
            store_credit_amounts=item.get("store_credit_amounts") or [{"amount": 0}],
            form_fields=[
                {"name": f["name"], "value": f["value"]} for f in item.get("form_fields", [])
            ],
            addresses=[],
        )
        self.next_id += 1
        for address in item.get("addresses", []):
            row["addresses"].append(self.new_address(row["id"], address))
        self.rows[row["id"]] = row
        self.by_email.setdefault(row["email"].casefold(), set()).add(row["id"])
        return row

    def new_address(self, customer_id: int, raw: dict[str, Any]) -> dict[str, Any]:
        """A validated address of ``customer_id`` with the next address id (not yet stored)."""
        address = {name: raw.get(name, "") for name in ADDRESS_STRINGS}
        address["country_code"] = address["country_code"].upper()
        address.update(
            id=self.next_address_id,
            customer_id=customer_id,
            address_type=raw.get("address_type", "residential"),
            country=COUNTRIES.get(address["country_code"], address["country_code"]),
            form_fields=[
                {"name": f["name"], "value": f["value"]} for f in raw.get("form_fields", [])
            ],
        )
        self.next_address_id += 1
        return address

    @staticmethod
    def change_address(address: dict[str, Any], changes: dict[str, Any]) -> None:
        """Apply a validated partial update to a stored address."""
        for name in (*ADDRESS_STRINGS, "address_type"):
            if name in changes:
                address[name] = changes[name]
        address["country_code"] = address["country_code"].upper()
        address["country"] = COUNTRIES.get(address["country_code"], address["country_code"])
        if "form_fields" in changes:
            merged = {f["name"]: f["value"] for f in address["form_fields"]}
            merged.update({f["name"]: f["value"] for f in changes["form_fields"]})
            address["form_fields"] = [{"name": k, "value": v} for k, v in merged.items()]

    def update(self, row: dict[str, Any], changes: dict[str, Any]) -> None:
        """Apply a validated partial update (only writable fields are in ``changes``)."""
        old_email = row["email"]
        for name, value in changes.items():
            if name == "authentication":
                if "force_password_reset" in value:
                    row["force_password_reset"] = bool(value["force_password_reset"])
            elif name == "form_fields":
                merged = {f["name"]: f["value"] for f in row["form_fields"]}
                merged.update({f["name"]: f["value"] for f in value})
                row["form_fields"] = [{"name": k, "value": v} for k, v in merged.items()]
            else:
                row[name] = value
        if row["email"] != old_email:
            self._unindex(row["id"], old_email)
            self.by_email.setdefault(row["email"].casefold(), set()).add(row["id"])
        row["date_modified"] = now_utc()

    def delete(self, ids: Iterable[int]) -> list[int]:
        deleted = []
        for customer_id in ids:
            row = self.rows.pop(customer_id, None)
            if row is not None:
                self._unindex(customer_id, row["email"])
                deleted.append(customer_id)
        return deleted

    def _unindex(self, customer_id: int, email: str) -> None:
        key = email.casefold()
        owners = self.by_email.get(key)
        if owners is not None:
            owners.discard(customer_id)
            if not owners:
                del self.by_email[key]

    # -- representation ----------------------------------------------------------------------
    def out(self, row: dict[str, Any], include: Collection[str] = ()) -> dict[str, Any]:
        """The customer as ``GET /v3/customers`` returns it with ``include``."""
        attributes = self.emu.tables.get("attributes")
        body: dict[str, Any] = {
            "id": row["id"],
            "authentication": {"force_password_reset": row["force_password_reset"]},
            "company": row["company"],
            "customer_group_id": row["customer_group_id"],
            "email": row["email"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "notes": row["notes"],
            "phone": row["phone"],
            "registration_ip_address": row["registration_ip_address"],
            "tax_exempt_category": row["tax_exempt_category"],
            "date_created": iso_z(row["date_created"]),
            "date_modified": iso_z(row["date_modified"]),
            "address_count": len(row["addresses"]),
            "attribute_count": attributes.count_for(row["id"]) if attributes else 0,
            "accepts_product_review_abandoned_cart_emails": row[
                "accepts_product_review_abandoned_cart_emails"
            ],
            "origin_channel_id": row["origin_channel_id"],
            "channel_ids": row["channel_ids"],
        }
        if "addresses" in include:
            body["addresses"] = [
                self.address_out(a, "formfields" in include) for a in row["addresses"]
            ]
        if "attributes" in include:
            body["attributes"] = attributes.values_for(row["id"]) if attributes else []
        if "formfields" in include:
            body["form_fields"] = [{**f, "customer_id": row["id"]} for f in row["form_fields"]]
        if "storecredit" in include:
            body["store_credit_amounts"] = [dict(a) for a in row["store_credit_amounts"]]
        return body

    @staticmethod
    def address_out(address: dict[str, Any], with_form_fields: bool) -> dict[str, Any]:
        out = {k: v for k, v in address.items() if k != "form_fields"}
        if with_form_fields:
            out["form_fields"] = [dict(f) for f in address["form_fields"]]
        return out

    def form_field_values(
        self, customer_id: int | None, address_id: int | None
    ) -> list[dict[str, Any]]:
        """Customer and address form-field values, optionally for one customer or address."""
        if customer_id is not None:
            rows: Iterable[dict[str, Any]] = (
                [self.rows[customer_id]] if customer_id in self.rows else []
            )
        else:
            rows = self.rows.values()
        values: list[dict[str, Any]] = []
        for row in rows:
            if address_id is None:
                values.extend({"customer_id": row["id"], **f} for f in row["form_fields"])
            for address in row["addresses"]:
                if address_id is None or address["id"] == address_id:
                    values.extend(
                        {"address_id": address["id"], **f} for f in address["form_fields"]
                    )
        return values

    # -- admin -------------------------------------------------------------------------------
    def dump(self, emu: Emulator) -> list[dict[str, Any]]:
        out = []
        for row in self.rows.values():
            body = self.out(row, ("addresses", "attributes", "formfields"))
            body["metafields"] = emu.metafields_for("customer", row["id"])
            body["consent"] = row.get("consent") or {"allow": [], "deny": []}
            out.append(body)
        return out

    def export(self) -> dict[str, Any]:
        rows = []
        for row in self.rows.values():
            plain = dict(row)
            plain["date_created"] = iso_z(row["date_created"])
            plain["date_modified"] = iso_z(row["date_modified"])
            rows.append(plain)
        return {"rows": rows, "next_id": self.next_id, "next_address_id": self.next_address_id}

    def load(self, data: dict[str, Any]) -> None:
        self.reset()
        for raw in data.get("rows", []):
            row = dict(raw)
            for key in ("date_created", "date_modified"):
                row[key] = datetime.fromisoformat(row[key].replace("Z", "+00:00"))
            self.rows[row["id"]] = row
            self.by_email.setdefault(row["email"].casefold(), set()).add(row["id"])
        self.next_id = data.get("next_id", self.next_id)
        self.next_address_id = data.get("next_address_id", self.next_address_id)
