"""Reading ``bcsync.yml``: the project, its syncs, alerts and database URLs, validated with
errors that name the file, line and key."""
