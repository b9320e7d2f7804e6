"""One edit of ``bcsync.yml`` from the browser: open, validate, save, reload.

An ``Edit`` holds the file as its form read it (text and ``version``), the round-trip document
the route changes, and the values bound for ``.env``. Saving validates with the configuration
model first, refuses a stale version (409), writes ``.env`` and ``bcsync.yml`` as one edit
(both or neither) and reloads the served project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from bcsync.config.editing.document import ConfigDocument, unified_diff, version_of
from bcsync.config.editing.envfile import ENV_FILE, set_values
from bcsync.config.editing.loading import ConfigRefused, EditProblem, load_text
from bcsync.config.editing.setup_mode import PLACEHOLDER, SetupProjectConfig, unset_variables
from bcsync.config.editing.writing import EDIT_LOCK, atomic_write, check_version, replace_file
from bcsync.config.project import ProjectConfig, project_environment
from bcsync.errors import ConfigError
from bcsync.web.app import project_of
from bcsync.web.masking import scrub
from bcsync.web.pages.setup_api.errors import Failure, secrets_of
from bcsync.web.setup_mode import reload


@dataclass
class Edit:
    """One edit of ``bcsync.yml`` on its way: the text before and after, and the env it needs."""

    config_path: Path
    before: str
    version: str
    document: ConfigDocument
    env_values: dict[str, str]

    @classmethod
    def open(cls, request: Request) -> Edit:
        path = project_of(request).config.config_path
        data = path.read_bytes()
        text = data.decode("utf-8")
        try:
            document = ConfigDocument(text)
        except ConfigError as exc:
            raise Failure(422, str(exc), [EditProblem("", str(exc))]) from None
        return cls(path, text, version_of(data), document, {})

    @property
    def after(self) -> str:
        return self.document.text()

    def environment(self) -> dict[str, str]:
        """The project's environment with the values about to be written to ``.env``, and the
        setup mode's placeholders for variables still unset."""
        env = {**project_environment(self.config_path.parent), **self.env_values}
        return {**env, **{name: PLACEHOLDER + name for name in unset_variables(self.after, env)}}

    def validate(self, after: str | None = None) -> ProjectConfig:
        """The edited project (``after``: its text, rendered once by the caller) as the
        configuration model reads it; Failure 422 if refused."""
        after = self.after if after is None else after
        model = ProjectConfig if self.document.section("destinations") else SetupProjectConfig
        try:
            return load_text(after, self.config_path, self.environment(), model=model)
        except ConfigRefused as exc:
            raise Failure(422, f"bcsync.yml would not be valid: {exc}", exc.problems) from None

    def save(self, request: Request, expected: str, *, dry_run: bool) -> dict[str, Any]:
        """Validate, then (unless ``dry_run``) write ``.env`` and ``bcsync.yml`` and reload.
        A stale version is told first: the problems of an edit of an outdated form mislead.
        ``.env`` goes first (the new file refers to it) and is put back if ``bcsync.yml``
        cannot be written: an edit is saved whole or not at all."""
        check_version(self.config_path, expected)
        after = self.after  # rendered once: the text validated is the text written
        self.validate(after)
        answer: dict[str, Any] = {"diff": unified_diff(self.before, after)}
        if dry_run:
            answer["version"] = self.version
            return answer
        with EDIT_LOCK:
            check_version(self.config_path, expected)
            env_file = self.config_path.parent / ENV_FILE
            env_before = None
            if self.env_values:
                env_before = env_file.read_bytes() if env_file.is_file() else None
                set_values(self.config_path.parent, self.env_values)
            try:
                answer["version"] = replace_file(
                    self.config_path, after.encode("utf-8"), expected_version=expected
                )
            except BaseException:  # bcsync.yml unchanged: so is .env (one edit, or none)
                if self.env_values:
                    if env_before is None:
                        env_file.unlink(missing_ok=True)
                    else:
                        atomic_write(env_file, env_before)
                raise
        try:
            reload(request.app)
        except ConfigError as exc:  # written, valid by the model, yet not loadable: say so
            answer["reload_error"] = scrub(str(exc), secrets_of(request))
        return answer
