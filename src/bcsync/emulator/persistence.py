"""Optional persistence: with ``data_file`` set, tables are loaded at start and saved at stop.

Only tables that implement ``export() -> Any`` and ``load(data) -> None`` take part. The file is
written to a temporary name and renamed, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bcsync.emulator.core import Emulator


def load(emu: Emulator) -> None:
    """Fill the tables from ``data_file`` if it is set and exists."""
    if not emu.settings.data_file:
        return
    path = Path(emu.settings.data_file)
    if not path.exists():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    for name, table in emu.tables.items():
        if name in doc and hasattr(table, "load"):
            table.load(doc[name])


def save(emu: Emulator) -> None:
    """Write every exportable table to ``data_file`` if it is set."""
    if not emu.settings.data_file:
        return
    path = Path(emu.settings.data_file)
    doc = {name: t.export() for name, t in emu.tables.items() if hasattr(t, "export")}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
