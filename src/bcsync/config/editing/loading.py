"""Validating an edited ``bcsync.yml`` before it is written, with the CLI's own model.

``load_text`` reads text that is not on disk yet exactly as ``load_config`` reads the file
(``read_yaml``: lines, ``${VAR}``, URL passwords; then ``ProjectConfig``), with ``.env`` values
about to be written passed in ``env``. What it refuses comes back as ``ConfigRefused``, whose
``problems`` are (key path, message) pairs a form can put next to its fields.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bcsync.config.issues import describe_validation_error
from bcsync.config.project import _URL_KEYS, ProjectConfig
from bcsync.config.yamlsource import display_name, read_yaml
from bcsync.errors import ConfigError

# ``bcsync.yml:14: syncs.vip.mappings[2].field: field required`` (the path may be absent).
_LINE = re.compile(r"^(?P<where>.+?:\d+): (?:(?P<path>[\w.\-\[\]]+): )?(?P<message>.*)$")


@dataclass(frozen=True)
class EditProblem:
    path: str  # ``syncs.vip.mappings[2].field``; "" for the file as a whole
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ConfigRefused(ConfigError):
    """The configuration model refused the edited text; ``problems`` say where and why."""

    def __init__(self, message: str, problems: list[EditProblem]) -> None:
        super().__init__(message)
        self.problems = problems


def problems_in(message: str) -> list[EditProblem]:
    """A ConfigError's lines as located problems."""
    found = []
    for line in message.splitlines():
        match = _LINE.match(line)
        if match:
            found.append(EditProblem(match["path"] or "", match["message"]))
        elif line.strip():
            found.append(EditProblem("", line.strip()))
    return found


def load_text(
    text: str,
    config_path: Path,
    env: Mapping[str, str],
    *,
    model: type[ProjectConfig] = ProjectConfig,
) -> ProjectConfig:
    """``text`` as the project at ``config_path`` would load it with ``env``; raises
    ConfigRefused. Messages name ``config_path`` (never the scratch file read meanwhile)."""
    project_dir = config_path.parent
    shown = display_name(config_path)
    handle, scratch = tempfile.mkstemp(prefix=".bcsync-check-", suffix=".yml", dir=project_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        scratch_shown = display_name(Path(scratch))
        try:
            source = read_yaml(Path(scratch), env, url_keys=_URL_KEYS)
        except ConfigError as exc:
            message = str(exc).replace(scratch_shown, shown)
            raise ConfigRefused(message, problems_in(message)) from None
    finally:
        Path(scratch).unlink(missing_ok=True)
    source = dataclasses.replace(source, display=shown)
    if not isinstance(source.data, dict):
        message = f"{shown}:1: the project file must be a mapping of keys"
        raise ConfigRefused(message, problems_in(message))
    for reserved in ("project_dir", "config_path"):
        if reserved in source.data:
            message = f"{source.locate((reserved,))}: {reserved}: unknown key"
            raise ConfigRefused(message, problems_in(message))
    data = {**source.data, "project_dir": project_dir, "config_path": config_path}
    try:
        config = model.model_validate(data, context={"project_dir": project_dir})
    except ValidationError as exc:
        message = describe_validation_error(exc, source, model)
        raise ConfigRefused(message, problems_in(message)) from None
    config._source = source
    return config
