"""Round-trip edits of ``bcsync.yml`` text with ruamel.yaml: comments, key order and layout kept.

An edit merges the new value into the document node by node: a key whose value did not change
keeps its node (its comments, quotes, flow or block style), keys are updated in place, new ones
are appended, and only removed keys disappear. ruamel re-spells what it dumps (it collapses the
spaces that align ``{column: email,      field: email}``, and has one indentation for the whole
file), so after dumping, every line whose words did not change gets its original spelling back
(``restore_layout``); the result is kept only if it still parses to the same data.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import io
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from bcsync.errors import ConfigError

CONFIG_NAME = "bcsync.yml"


def version_of(data: bytes) -> str:
    """The version a form carries back: the sha256 of the file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def unified_diff(before: str, after: str, name: str = CONFIG_NAME) -> str:
    """The change as ``diff -u`` shows it (empty when nothing changes)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _yaml(mapping: int = 2, sequence: int = 4, offset: int = 2) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the user wrote on one
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def plain(node: Any) -> Any:
    """ruamel's nodes as plain dicts, lists and scalars (for comparison and JSON)."""
    if isinstance(node, Mapping):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


class ConfigDocument:
    """``bcsync.yml`` as a round-trip document; ``text()`` renders it after edits."""

    def __init__(self, text: str) -> None:
        # A file written with CRLF line endings keeps them: edited as LF, written back as CRLF
        # (ruamel writes LF only, and a file of mixed endings confuses editors and diffs).
        self._newline = "\r\n" if "\r\n" in text else "\n"
        text = text.replace("\r\n", "\n")
        self.original = text
        indent, offset, width = guess_indentation(text)
        self._yaml = _yaml(mapping=indent, sequence=offset + width, offset=offset)
        try:
            self.data = self._yaml.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{CONFIG_NAME}{line}: YAML syntax error") from None
        if self.data is None:
            self.data = CommentedMap()
        if not isinstance(self.data, CommentedMap):
            raise ConfigError(f"{CONFIG_NAME}: the project file must be a mapping of keys")

    # -- reading -------------------------------------------------------------------------------

    def section(self, key: str) -> dict[str, Any]:
        """``destinations`` or ``syncs`` as plain data ({} when absent or empty)."""
        value = self.data.get(key)
        return plain(value) if isinstance(value, Mapping) else {}

    # -- edits ---------------------------------------------------------------------------------

    def set_entry(self, section: str, name: str, body: Mapping[str, Any]) -> None:
        """Make ``section.name`` hold ``body``: merged into what is there, or appended."""
        parent = self._section_node(section)
        if name in parent and isinstance(parent[name], CommentedMap):
            parent[name] = _merge(parent[name], body)
        else:
            parent[name] = _node(body, depth=2)

    def update_entry(self, section: str, name: str, changes: Mapping[str, Any]) -> None:
        """Set some keys of ``section.name`` (None removes a key), leaving the others."""
        parent = self._section_node(section)
        entry = parent.get(name)
        if not isinstance(entry, CommentedMap):
            entry = CommentedMap()
            parent[name] = entry
        for key, value in changes.items():
            if value is None:
                if key in entry:
                    _drop_key(entry, key)
            elif key in entry:
                entry[key] = _merge(entry[key], value)
            else:
                entry[key] = _node(value, depth=3)

    def remove_entry(self, section: str, name: str) -> None:
        parent = self.data.get(section)
        if isinstance(parent, CommentedMap):
            parent.pop(name, None)

    def copy_entry(self, section: str, name: str, new_name: str) -> None:
        """Add ``new_name`` as a copy of ``name``: its values and flow style, not its comments.

        A deep copy would share ruamel's comment tokens with the original, and dumping the
        two then moves a comment onto a key's line (``mappings:   - {…}``, not YAML)."""
        parent = self._section_node(section)
        parent[new_name] = _without_comments(parent[name])

    def _section_node(self, section: str) -> CommentedMap:
        node = self.data.get(section)
        if isinstance(node, CommentedMap) and node:
            return node
        # ``syncs:`` with nothing under it (or ``{}``): a fresh block mapping; destinations
        # go before the syncs that name them.
        node = CommentedMap()
        if section in self.data:
            self.data[section] = node
        elif section == "destinations" and "syncs" in self.data:
            self.data.insert(list(self.data).index("syncs"), section, node)
        else:
            self.data[section] = node
        return node

    # -- rendering -----------------------------------------------------------------------------

    def text(self) -> str:
        """The document as text, with the original spelling of every line left unchanged."""
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        rendered = out.getvalue()
        restored = restore_layout(self.original, rendered)
        if restored != rendered and _parsed(restored) != _parsed(rendered):
            restored = rendered
        return restored.replace("\n", self._newline)


def _without_comments(node: Any) -> Any:
    """``node`` rebuilt from new ruamel containers: same values and flow style, no comments."""
    if isinstance(node, CommentedMap):
        fresh: CommentedMap | CommentedSeq = CommentedMap(
            (key, _without_comments(value)) for key, value in node.items()
        )
    elif isinstance(node, CommentedSeq):
        fresh = CommentedSeq(_without_comments(item) for item in node)
    else:
        return copy.deepcopy(node)
    if node.fa.flow_style():
        fresh.fa.set_flow_style()
    return fresh


_KEY_LINE = re.compile(r"^( *)[^\s#-][^#]*:\s*(#.*)?$")  # a key with its value below it
_ITEM_LINE = re.compile(r"^( *)- +")


def guess_indentation(text: str) -> tuple[int, int, int]:
    """(mapping indent, offset of a sequence's dash from its parent key, width of the dash and
    the spaces after it) as the file writes them; ``bcsync init``'s (2, 2, 2) when the file
    does not show them."""
    mapping = offset = None
    width = 2
    parent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        here = len(line) - len(line.lstrip(" "))
        item = _ITEM_LINE.match(line)
        if parent is not None and here > parent:
            if item and offset is None:
                offset = here - parent
                width = len(item.group(0)) - here
            elif not item and mapping is None:
                mapping = here - parent
        if parent is not None and item and here == parent and offset is None:
            offset = 0
            width = len(item.group(0)) - here
        key = _KEY_LINE.match(line)
        parent = len(key.group(1)) if key and not item else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset if offset is not None else 2, width


def restore_layout(original: str, rendered: str) -> str:
    """``rendered`` with each line whose words equal an original line's in the same place taken
    from ``original`` (its alignment, its indentation), and each run of lines whose words are
    those of the original's run there. The caller checks that the result still means the same."""
    old = original.splitlines(keepends=True)
    new = rendered.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(
        None,
        [" ".join(line.split()) for line in old],
        [" ".join(line.split()) for line in new],
        autojunk=False,
    )
    kept: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        # ``replace`` with the same words: ruamel broke a line (a comment after ``&anchor``
        # goes to a line of its own); the user's line is kept.
        same = tag == "replace" and "".join(old[i1:i2]).split() == "".join(new[j1:j2]).split()
        kept.extend(old[i1:i2] if tag == "equal" or same else new[j1:j2])
    text = "".join(kept)
    if rendered.endswith("\n") and not text.endswith("\n"):
        text += "\n"
    return text


def _parsed(text: str) -> Any:
    try:
        return plain(YAML(typ="safe", pure=True).load(text))
    except YAMLError:
        return None


def _merge(old: Any, new: Any) -> Any:
    """``new`` as a node, reusing ``old``'s nodes wherever the values are the same."""
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        for key in [key for key in old if key not in new]:
            _drop_key(old, key)
        for key, value in new.items():
            old[key] = _merge(old[key], value) if key in old else _node(value, depth=3)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        flow_items = any(isinstance(item, CommentedMap) and item.fa.flow_style() for item in old)
        while len(old) > len(new):
            del old[len(old) - 1]
        for index, value in enumerate(new):
            if index < len(old):
                old[index] = _merge(old[index], value)
            else:
                old.append(_node(value, depth=3, flow=flow_items))
        return old
    if plain(old) == new and type(plain(old)) is type(new):
        return old  # the same scalar keeps its quoting
    return _node(new, depth=3)


def _drop_key(node: CommentedMap, key: Any) -> None:
    """Remove ``key``, handing the comment and blank lines that followed its value to the key
    before it (ruamel keeps them with the removed key, and the file would lose them)."""
    keys = list(node)
    index = keys.index(key)
    after = node.ca.items.get(key)
    del node[key]
    if index == 0 or not after or len(after) < 3 or after[2] is None:
        return
    previous = keys[index - 1]
    if isinstance(node[previous], (CommentedMap, CommentedSeq)):
        return  # its comments live inside it; a blank line lost is better than a misplaced one
    # The removed line's own end-of-line comment goes with it; the lines after it stay.
    token = after[2]
    tail = token.value[token.value.find("\n") :] if "\n" in token.value else ""
    if not tail.strip("\n") and tail.count("\n") < 2:
        return
    slot = node.ca.items.setdefault(previous, [None, None, None, None])
    if slot[2] is None:
        token.value = tail
        slot[2] = token
    else:  # the token starts with the end of its own line: not wanted twice
        slot[2].value += tail[1:]


def _node(value: Any, *, depth: int, flow: bool | None = None) -> Any:
    """A new node for ``value``: small mappings of scalars inside a sync (``match``, a mapping
    row) in flow style as ``bcsync init`` writes them, everything else in block style."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[str(key)] = _node(item, depth=depth + 1)
        small = 0 < len(value) <= 3 and depth >= 3 and all(map(_short, value.values()))
        if flow if flow is not None else small:
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq()
        for item in value:
            row = isinstance(item, Mapping) and all(map(_short, item.values()))
            seq.append(_node(item, depth=depth + 1, flow=True if row else None))
        return seq
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value if value.endswith("\n") else value + "\n")
    return value


def _short(value: Any) -> bool:
    """A scalar that reads well inside ``{…}``: no SQL, nothing long or on several lines."""
    if isinstance(value, (Mapping, list)):
        return False
    return not isinstance(value, str) or (len(value) <= 40 and "\n" not in value)
