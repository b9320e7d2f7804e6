"""The project's ``.env``: where the UI puts a destination's access token, and under what name.

python-dotenv reads the file (``project_environment``), but its ``set_key`` rewrites the file
through a temporary copy that it moves over without an fsync, and quotes every value it writes
in its own way; this module changes only the lines of the variables it sets (appending new ones)
and keeps every other line and comment byte for byte, written atomically
(``writing.atomic_write``), readable by its owner only.

Values are written in single quotes unless plain. python-dotenv reads a single-quoted value as
is except for two things: it undoes backslash escapes, and it expands ``${VAR}`` (in every
value, quoted or not, with no way to escape it). So a value holding a quote, a backslash,
``${`` or a control character (a line break would start another variable) is refused rather than
written as something else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from bcsync.config.editing.writing import EDIT_LOCK, atomic_write
from bcsync.errors import ConfigError

ENV_FILE = ".env"
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_PLAIN = re.compile(r"[A-Za-z0-9_\-.:/+=@,]*")
# ``${NAME}`` alone, or with a default, as a whole value: the variable a key refers to.
_WHOLE_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}$")


def referenced_variable(raw: object) -> str | None:
    """The variable a raw ``bcsync.yml`` value is (``${BIGCOMMERCE_ACCESS_TOKEN}``), if any."""
    if not isinstance(raw, str):
        return None
    match = _WHOLE_REFERENCE.match(raw.strip())
    return match.group(1) if match else None


def token_variable(destination: str, raw: object, environ: Mapping[str, str]) -> str:
    """The variable to keep ``destination``'s access token in: the one ``bcsync.yml`` already
    refers to (``bcsync init`` writes ``${BIGCOMMERCE_ACCESS_TOKEN}``), else
    ``BIGCOMMERCE_<DESTINATION>_ACCESS_TOKEN``. A variable set in the real environment is
    passed over: it wins over ``.env``, so a token written there would never be read."""
    existing = referenced_variable(raw)
    if existing is not None and existing not in environ:
        return existing
    stem = re.sub(r"[^A-Za-z0-9]+", "_", destination).strip("_").upper() or "STORE"
    name = f"BIGCOMMERCE_{stem}_ACCESS_TOKEN"
    suffix = 2
    candidate = name
    while candidate in environ:
        candidate = f"{name}_{suffix}"
        suffix += 1
    return candidate


_UNWRITABLE = re.compile(r"['\\\x00-\x1f\x7f]|\$\{")


def _line(name: str, value: str) -> str:
    if _UNWRITABLE.search(value):  # the message must not quote the value: it is a secret
        raise ConfigError(
            f"the value for {name} cannot hold a quote, a backslash, '${{' or a control "
            "character (.env would read it as something else)"
        )
    return f"{name}={value}" if _PLAIN.fullmatch(value) else f"{name}='{value}'"


def set_values(project_dir: Path, values: Mapping[str, str]) -> list[str]:
    """Set ``values`` in ``project_dir/.env`` (created if missing); returns the names set."""
    path = project_dir / ENV_FILE
    with EDIT_LOCK:
        # Bytes, not read_text: its newline translation would turn every CRLF into LF.
        text = path.read_bytes().decode("utf-8") if path.is_file() else ""
        lines = text.splitlines(keepends=True)
        pending = dict(values)
        out: list[str] = []
        for line in lines:
            match = _ASSIGNMENT.match(line)
            if match and match.group(1) in values:
                name = match.group(1)
                if name in pending:  # the first assignment is replaced; repeats are dropped
                    ending = line[len(line.rstrip("\r\n")) :]
                    out.append(_line(name, pending.pop(name)) + ending)
                continue
            out.append(line)
        if pending:
            newline = "\r\n" if "\r\n" in text else "\n"
            if out and not out[-1].endswith("\n"):
                out[-1] += newline
            out.extend(_line(name, value) + newline for name, value in pending.items())
        # It holds a secret now: readable by its owner only, even if it was not before.
        atomic_write(path, "".join(out).encode("utf-8"), mode=0o600)
    return list(values)
