"""Editing ``bcsync.yml`` from the web UI: round-trip edits, validation, atomic writes, ``.env``.

The path of one edit: ``document`` applies it to the file's text (comments, order and layout
kept) and renders the diff; ``loading`` validates the new text with the same configuration model
as the CLI, without writing it; ``writing`` writes it atomically, refusing when the file changed
on disk since the form read it; ``envfile`` puts a destination's access token into ``.env``, so
``bcsync.yml`` only ever holds a ``${VAR}`` reference to it.
"""
