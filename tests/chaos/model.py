"""The warehouse model as the chaos driver keeps it: lineages (logical rows) and their history.

A :class:`Lineage` is one logical row. Its ``values`` (primary key included) change with edits;
every values it ever had is kept in ``versions``. ``leaves`` lists the rounds at which its
primary key left the model (the row was removed, or its key changed): only then may a record it
wrote stay behind unheld (``on_delete: nothing/clear``) or be deleted (``on_delete: delete``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.chaos.kinds import Kind, lineage_of, tag


@dataclass
class Lineage:
    number: int
    values: dict[str, Any]
    present: bool = True
    versions: list[dict[str, Any]] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    forgotten: bool = False  # the sync's state was reset and no run has found it again since
    version: int = 0

    def left_between(self, first: int, last: int) -> bool:
        """Whether the row's key left the model in a round of ``first..last``."""
        return any(first <= r <= last for r in self.leaves)


class Model:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.lineages: dict[int, Lineage] = {}
        self._next_key = 1

    # -- identities ----------------------------------------------------------------------------
    def new_key(self) -> str:
        key = f"{self.kind.key_prefix}{self._next_key}"
        self._next_key += 1
        return key

    def new_lineage(self) -> int:
        return len(self.lineages) + 1

    # -- views ---------------------------------------------------------------------------------
    def present(self) -> list[Lineage]:
        return [lin for lin in self.lineages.values() if lin.present]

    def absent(self) -> list[Lineage]:
        return [lin for lin in self.lineages.values() if not lin.present]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(lin.values) for lin in self.present()]

    def valid(self) -> list[Lineage]:
        return [lin for lin in self.present() if self.kind.problem(lin.values) is None]

    def pk(self, lin: Lineage) -> str:
        return str(lin.values[self.kind.pk])

    def by_tag(self, text: Any) -> Lineage | None:
        number = lineage_of(text)
        return self.lineages.get(number) if number is not None else None

    # -- changes -------------------------------------------------------------------------------
    def add(self, lineage: int, values: dict[str, Any]) -> Lineage:
        lin = Lineage(lineage, dict(values))
        lin.versions.append(dict(values))
        self.lineages[lineage] = lin
        return lin

    def set(self, lin: Lineage, values: dict[str, Any], *, bump: bool = True) -> None:
        """New values for a row; ``bump`` writes a new version number into its tag."""
        values = dict(values)
        if bump:
            lin.version += 1
            field_name = "note" if self.kind.sync == "order_updates" else "first_name"
            values[field_name] = tag(lin.number, lin.version)
        lin.values = values
        lin.versions.append(dict(values))

    def remove(self, lin: Lineage, round_no: int) -> None:
        lin.present = False
        lin.leaves.append(round_no)

    def rekey(self, lin: Lineage, round_no: int) -> tuple[str, str]:
        old = self.pk(lin)
        new = self.new_key()
        lin.leaves.append(round_no)
        self.set(lin, {**lin.values, self.kind.pk: new}, bump=False)
        return old, new

    def restore(self, lin: Lineage, values: dict[str, Any], *, bump: bool) -> None:
        lin.present = True
        self.set(lin, values, bump=bump)

    def forget_all(self) -> None:
        """``bcsync state reset``: the sync forgets every row; a row is known again once a run
        has found its record (:meth:`found_again`), the others' records are left as they are."""
        for lin in self.lineages.values():
            lin.forgotten = True

    def found_again(self, rejected: set[str]) -> None:
        """After a finished run: its valid rows (but the rejected ones) hold their records again."""
        for lin in self.valid():
            if self.pk(lin) not in rejected:
                lin.forgotten = False
