"""Turn pydantic validation errors into messages that name the file, the line and the key path.

Validators raise ``ConfigIssue`` to point below the model they check (``mappings[3].field``
rather than the whole sync). Input values are never quoted, since they may be secrets, with one
exception: the value given to a field with a fixed set of choices (``on_delete: obliterate``).
The user needs to see which value was refused, and no secret field has fixed choices.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from bcsync.config.yamlsource import KeyPath, LocatedDocument, format_path

# Filled in by the loader, never written by users, so never suggested.
_HIDDEN_KEYS = {"name", "project_dir", "config_path"}
# Errors for a value outside a field's fixed choices (Literal, Enum); only these quote the input.
_CHOICE_ERRORS = {"literal_error", "enum"}
_SHOWN_CHARS = 60


class Frozen(BaseModel):
    """Base of every config model: immutable, and an unknown key is an error (typos are caught)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigIssue(ValueError):
    """A validation failure at ``path``, relative to the model whose validator raised it."""

    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def describe_validation_error(
    exc: ValidationError, source: LocatedDocument, root: type[BaseModel]
) -> str:
    """One ``file:line: key.path: message`` line per error, in file order."""
    found: dict[str, int] = {}
    for error in exc.errors(include_url=False):
        path, message = _explain(error, source.data, root)
        where = source.locate(path)
        text = f"{where}: {format_path(path)}: {message}" if path else f"{where}: {message}"
        found.setdefault(text, source.line_of(path))
    return "\n".join(sorted(found, key=lambda text: found[text]))


def _explain(error: Any, data: Any, root: type[BaseModel]) -> tuple[KeyPath, str]:
    path = _data_path(data, error["loc"])
    kind = error["type"]
    issue = (error.get("ctx") or {}).get("error")
    if isinstance(issue, ConfigIssue):
        return (*path, *issue.path), issue.message
    if kind == "missing":
        return path, "field required"
    if kind == "extra_forbidden":
        return path, _unknown_key(root, data, path)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, "expected a mapping of keys to values"
    if kind == "list_type":
        return path, "expected a list"
    if kind == "union_tag_not_found":
        return (*path, "type"), "field required"
    if kind in _CHOICE_ERRORS:
        return path, _not_a_choice(error["input"], error["ctx"]["expected"])
    if kind == "union_tag_invalid":
        ctx = error["ctx"]
        tags = " or ".join(str(ctx["expected_tags"]).rsplit(", ", 1))
        return (*path, "type"), _not_a_choice(ctx["tag"], tags)
    message = str(error["msg"]).removeprefix("Value error, ")
    return path, message[:1].lower() + message[1:]


def _not_a_choice(value: Any, expected: str) -> str:
    """``'obliterate' is not valid: must be 'nothing', 'clear' or 'delete'``, and a close match."""
    message = f"{_shown(value)} is not valid: must be {expected}"
    choices = re.findall(r"'([^']*)'", expected)
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    if isinstance(value, str) and close:
        message += f" (did you mean '{close[0]}'?)"
    elif isinstance(value, bool):
        message += " (YAML reads an unquoted yes/no/on/off as true/false)"
    return message


def _shown(value: Any) -> str:
    """The refused value as the user would recognise it, shortened."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    text = str(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def _data_path(data: Any, loc: Sequence[int | str]) -> KeyPath:
    """Follow pydantic's ``loc`` through the data, dropping parts that are not keys (union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and part == loc[-1]:
            pass  # a missing key: keep it in the path, its line is its parent's
        else:
            continue
        path.append(part)
    return tuple(path)


def _unknown_key(root: type[BaseModel], data: Any, path: KeyPath) -> str:
    allowed = _allowed_keys(root, data, path[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (allowed: {', '.join(allowed)})"


def _allowed_keys(root: type[BaseModel], data: Any, path: KeyPath) -> list[str]:
    """The keys the model at ``path`` accepts; empty when it cannot be worked out."""
    annotation: Any = root
    node = data
    for part in path:
        model = _as_model(annotation, node)
        if model is not None:
            field = next(
                (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
            )
            if field is None:
                return []
            annotation = field.annotation
        else:
            origin = get_origin(_strip(annotation))
            args = get_args(_strip(annotation))
            if origin is dict and len(args) == 2:
                annotation = args[1]
            elif origin is list and args:
                annotation = args[0]
            else:
                return []
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    model = _as_model(annotation, node)
    if model is None:
        return []
    keys = [field.alias or name for name, field in model.model_fields.items()]
    return [key for key in keys if key not in _HIDDEN_KEYS]


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _as_model(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The model class an annotation means for this node; unions are picked by ``type``."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [_as_model(arg, node) for arg in get_args(annotation)]
        candidates = [model for model in models if model is not None]
        if len(candidates) == 1:
            return candidates[0]
        tag = node.get("type") if isinstance(node, dict) else None
        for model in candidates:
            type_field = model.model_fields.get("type")
            literal = type_field is not None and get_origin(type_field.annotation) is Literal
            if literal and type_field is not None and tag in get_args(type_field.annotation):
                return model
    return None
