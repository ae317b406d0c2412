"""fsync helpers shared by every writer that publishes files with write-then-rename.

A file renamed into place is only crash-safe when its content was fsynced before the
rename, and the rename itself is only durable once the directory holding the new entry is
fsynced. The lake, the publication and the export folders all follow that rule with these
two functions.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush a file's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (makes renames and creations inside it durable)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
