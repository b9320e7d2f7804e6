"""Loading a project that is not set up yet, for ``bcsync serve`` (setup mode).

``bcsync init`` writes a destination whose values are ``${BIGCOMMERCE_STORE_HASH}`` and
``${BIGCOMMERCE_ACCESS_TOKEN}``, unset until ``.env`` is filled in; a project may also have no
destination or no sync yet. The server starts on such a project anyway, so the setup forms can
fix it: ``load_for_setup`` loads it with every unset variable standing for a placeholder and
destinations optional, and returns the strict loader's problems, which the pages show and which
refuse every run. Anything else wrong (a YAML error, a bad key) still stops the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from bcsync.config.editing.loading import ConfigRefused, load_text
from bcsync.config.project import (
    DestinationConfig,
    ProjectConfig,
    find_config_file,
    load_config,
    project_environment,
)
from bcsync.errors import ConfigError

# What an unset variable reads as in setup mode: a URL (so it passes as an api_url too) that no
# request can reach, and that the UI recognises as "not set".
PLACEHOLDER = "https://unset.invalid/"
_REQUIRED_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SetupProjectConfig(ProjectConfig):
    """The project model with destinations optional: a project with none can be served."""

    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class SetupLoad:
    """A project as served: its config and what keeps it from running (empty: nothing)."""

    config: ProjectConfig
    problems: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.problems


def is_placeholder(value: str) -> bool:
    return value.startswith(PLACEHOLDER)


def unset_variables(text: str, env: Mapping[str, str]) -> set[str]:
    """The variables ``text`` needs (``${NAME}`` without a default) that ``env`` lacks."""
    return {name for name in _REQUIRED_REFERENCE.findall(text) if name not in env}


def load_for_setup(path: Path | str | None = None) -> SetupLoad:
    """The project at ``path``, leniently when only unset variables or a missing destination
    stop it; raises the strict loader's ConfigError for anything else."""
    config_path = find_config_file(path)
    try:
        return SetupLoad(load_config(config_path))
    except ConfigError as exc:
        strict = exc
    text = config_path.read_text(encoding="utf-8")
    env = project_environment(config_path.parent)
    unset = unset_variables(text, env)
    lenient = {**env, **{name: PLACEHOLDER + name for name in unset}}
    try:
        config = load_text(text, config_path, lenient, model=SetupProjectConfig)
    except ConfigRefused:
        raise strict from None
    problems = [line for line in str(strict).splitlines() if line.strip()]
    if not config.destinations:
        problems.append("no destination yet: add one in Setup")
    return SetupLoad(config, tuple(problems))
