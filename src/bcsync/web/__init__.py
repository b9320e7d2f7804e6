"""``bcsync serve``: the web UI and its JSON API over a project's run store.

It reads and acts only through the public :class:`bcsync.api.Project`, as the CLI does. Pages are
rendered on the server (Jinja2) and work without JavaScript; ``static/live.js`` adds live updates
from server-sent events.
"""
