"""What a form may not write into ``bcsync.yml``, whatever the configuration model allows.

A new ``${VAR}`` reference (the loader would expand any variable of the server, and pages show
the values) and a model file outside the project directory (its text would come back in error
messages). What the file already holds there may stay: those were written by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bcsync.config.editing.loading import EditProblem
from bcsync.web.pages.setup_api.edit import Edit
from bcsync.web.pages.setup_api.errors import Failure


def new_references(old: Any, new: Any, path: str) -> list[EditProblem]:
    """Where ``new`` holds a ``${VAR}`` that ``old`` (what bcsync.yml has there) does not.

    The loader expands ``${VAR}`` from the server's environment, and checks and pages show the
    values: a form that could write one would read any variable of the server (a store hash of
    ``${PGPASSWORD}``). References are written by hand; one already in the file may stay."""
    if isinstance(new, str):
        if "${" in new and new != old:
            return [EditProblem(path, "'${' cannot be set from the browser: edit bcsync.yml")]
        return []
    if isinstance(new, Mapping):
        was: Mapping[str, Any] = old if isinstance(old, Mapping) else {}
        return [
            problem
            for key, item in new.items()
            for problem in new_references(was.get(key), item, f"{path}.{key}")
        ]
    if isinstance(new, list):
        items: list[Any] = old if isinstance(old, list) else []
        return [
            problem
            for index, item in enumerate(new)
            for problem in new_references(
                items[index] if index < len(items) else None, item, f"{path}[{index}]"
            )
        ]
    return []


def outside_files(project_dir: Path, old: Any, new: Any, path: str) -> list[EditProblem]:
    """A model ``file`` the browser names outside the project directory (``../../etc/passwd``,
    an absolute path): refused, as its text would come back in error messages. A path already
    in bcsync.yml may stay."""
    if not isinstance(new, Mapping):
        return []
    given = new.get("file")
    before = old.get("file") if isinstance(old, Mapping) else None
    if not isinstance(given, str) or given == before:
        return []
    root = project_dir.resolve()
    if (root / Path(given).expanduser()).resolve().is_relative_to(root):
        return []
    return [EditProblem(path + ".file", "the model file must be inside the project directory")]


def refuse_unsafe(edit: Edit, name: str, sync: Mapping[str, Any]) -> None:
    """Failure 422 for a sync that writes a new ``${VAR}`` or names a file outside the project."""
    old = edit.document.section("syncs").get(name)
    problems = new_references(old, sync, f"syncs.{name}")
    problems += outside_files(
        edit.config_path.parent,
        old.get("model") if isinstance(old, Mapping) else None,
        sync.get("model"),
        f"syncs.{name}.model",
    )
    if problems:
        raise Failure(422, "the sync cannot be saved from the browser as it is", problems)
