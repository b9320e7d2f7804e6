"""The command line: its commands, their rendering, the progress bar, ``bcsync init`` and
``bcsync alerts``."""
