"""Writing ``bcsync.yml`` (and ``.env``) atomically, and only over the version a form read.

A form carries the ``version`` (sha256 of the file's bytes) it was built from. ``replace_file``
compares it with the file on disk under a lock, so an edit made meanwhile in an editor (or in
another tab) is refused with ``StaleVersion`` rather than overwritten. The new bytes go to a
temporary file in the same directory, are fsynced, and replace the file with ``os.replace``: a
reader sees the old file or the new one, never half of one, and a crash leaves one of the two.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from pathlib import Path

from bcsync.config.editing.document import version_of
from bcsync.errors import ConfigError

# One edit at a time in this process: the version check and the replace must not interleave.
EDIT_LOCK = threading.RLock()


class StaleVersion(ConfigError):
    """The file changed on disk since the form read it."""


def current_version(path: Path) -> str:
    return version_of(path.read_bytes()) if path.is_file() else version_of(b"")


def check_version(path: Path, expected: str) -> None:
    """Raise StaleVersion unless the file on disk is still the one ``expected`` names."""
    if current_version(path) != expected:
        raise StaleVersion(
            f"{path.name} changed on disk since this form was opened: reload the page to "
            "see its current content (nothing was written)"
        )


def replace_file(path: Path, data: bytes, *, expected_version: str | None = None) -> str:
    """Write ``data`` to ``path`` atomically (keeping the file's permissions); with
    ``expected_version``, only if the file is still that version. Returns the new version."""
    with EDIT_LOCK:
        if expected_version is not None:
            check_version(path, expected_version)
        atomic_write(path, data)
    return version_of(data)


def atomic_write(
    path: Path, data: bytes, *, new_mode: int = 0o644, mode: int | None = None
) -> None:
    """Temp file in the same directory, fsync, ``os.replace``, fsync of the directory. The
    file keeps its permissions (``new_mode`` for a new one) unless ``mode`` is given."""
    if mode is None:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else new_mode
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # not every file system lets a directory be fsynced
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
