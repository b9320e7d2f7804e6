"""Read a YAML file into plain data, remembering the line of every key, and expand ``${VAR}``.

Line numbers come from PyYAML's composed node tree, so any later check can say *where* in the
file a value was written: ``located.locate(("syncs", "vip", "mappings", 2, "field"))`` gives
``"bcsync.yml:14"``.

Interpolation runs after parsing, on string scalars only, so a secret that contains ``:`` or
``#`` cannot change the structure of the document. Syntax:

- ``${NAME}``            the variable's value; an unset variable is an error
- ``${NAME:-default}``   the default when the variable is unset or empty
- ``$${``                a literal ``${``

In a database URL (the keys given as ``url_keys``: ``warehouse.url``, ``state.url``) a reference
that stands in the password, ``postgresql://bc:${PGPASSWORD}@db/analytics``, is percent-encoded,
so a password holding ``@ : / % # ?`` or spaces arrives as it is, ``%41`` included. A reference
that is the whole URL (``${DATABASE_URL}``) is taken as written: it is a URL already.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bcsync.config.database_url import password_spans
from bcsync.errors import ConfigError

KeyPath = tuple[str | int, ...]

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_path(path: Sequence[str | int]) -> str:
    """``("syncs", "vip", "mappings", 2, "field")`` → ``syncs.vip.mappings[2].field``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def display_name(path: Path) -> str:
    """The file as it should appear in messages: relative to the working directory if inside it."""
    cwd = Path.cwd().resolve()
    if cwd == Path(cwd.anchor):
        return str(path)
    try:
        return str(path.resolve().relative_to(cwd))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class LocatedDocument:
    """A parsed YAML document and the line (1-based) of every key path in it."""

    data: Any
    lines: Mapping[KeyPath, int] = field(repr=False)
    display: str

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of ``path``, or of its nearest ancestor that was written in the file."""
        parts = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), 1)

    def locate(self, path: Sequence[str | int]) -> str:
        """``"bcsync.yml:14"`` for the key path."""
        return f"{self.display}:{self.line_of(path)}"


def read_yaml(
    path: Path, env: Mapping[str, str], *, url_keys: Collection[KeyPath] = ()
) -> LocatedDocument:
    """Parse ``path``, expanding ``${VAR}`` from ``env``; raise ConfigError naming file and line.

    ``url_keys`` are the key paths of database URLs (see the module docstring).
    """
    display = display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read: {exc.strerror or exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        # Only the problem text: the mark's snippet could show a secret typed into the file.
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{display}:{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{display}: YAML error: {type(exc).__name__}") from None
    builder = _Builder(loader, env, display, frozenset(url_keys))
    try:
        data = builder.build(root, ()) if root is not None else None
    finally:
        loader.dispose()
    if builder.errors:
        raise ConfigError("\n".join(message for _, message in sorted(builder.errors)))
    lines = dict(builder.lines)
    lines[()] = root.start_mark.line + 1 if root is not None else 1
    return LocatedDocument(data=data, lines=lines, display=display)


class _Builder:
    """Turns composed nodes into dicts, lists and scalars while recording lines."""

    def __init__(
        self,
        loader: yaml.SafeLoader,
        env: Mapping[str, str],
        display: str,
        url_keys: frozenset[KeyPath],
    ) -> None:
        self.loader = loader
        self.env = env
        self.display = display
        self.url_keys = url_keys
        self.lines: dict[KeyPath, int] = {}
        self.errors: list[tuple[int, str]] = []

    def error(self, line: int, path: KeyPath, message: str) -> None:
        where = f" {format_path(path)}:" if path else ""
        self.errors.append((line, f"{self.display}:{line}:{where} {message}"))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self.build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index)))
            return items
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            return self.interpolate(str(node.value), node.start_mark.line + 1, path)
        return self.loader.construct_object(node, deep=True)

    def build_mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves "<<" merge keys
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(line, path, "a key must be a plain string")
                continue
            # The key's text as written: `on:` stays "on", not YAML 1.1's True.
            key = str(key_node.value)
            if key in result:
                first = self.lines[(*path, key)]
                self.error(line, (*path, key), f"duplicate key (first written on line {first})")
                continue
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def interpolate(self, text: str, line: int, path: KeyPath) -> str:
        passwords = self.url_password_spans(text) if path in self.url_keys else []

        def replace(match: re.Match[str]) -> str:
            value = expand(match)
            if any(start <= match.start() < end for start, end in passwords):
                return urllib.parse.quote(value, safe="")
            return value

        def expand(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            reference = match.group(1)
            name, has_default, default = reference.partition(":-")
            if not _NAME.fullmatch(name):
                self.error(line, path, f"bad variable reference ${{{reference}}}")
                return ""
            value = self.env.get(name)
            if value is None or (has_default and value == ""):
                if has_default:
                    return default
                self.error(line, path, f"environment variable {name} is not set (nor in .env)")
                return ""
            return value

        return _REFERENCE.sub(replace, text)

    @staticmethod
    def url_password_spans(text: str) -> list[tuple[int, int]]:
        """Where the URL's passwords are in ``text``, read with each reference as plain filler
        (a default such as ``${USER:-a:b}`` must not look like the URL's own ``:``)."""
        return password_spans(_REFERENCE.sub(lambda match: "x" * len(match.group(0)), text))
