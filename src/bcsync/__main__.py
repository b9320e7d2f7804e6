from __future__ import annotations

from bcsync.cli.commands import main

main()
