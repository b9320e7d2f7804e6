"""``bcsync demo``: a sample warehouse and a scripted tour of bcsync against the local emulator."""

from __future__ import annotations
