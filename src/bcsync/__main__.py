from __future__ import annotations

from bcsync.cli import main

main()
