"""The export folder tree: staging folders, the atomic swap, ``latest`` and retention.

A report folder is built under a hidden temporary name beside its final place
(``.tmp-<name>-<uuid>``) and renamed into place in one step, so nobody ever sees a half-written
folder; an existing folder of the same name is first renamed aside (``.old-<name>-<uuid>``),
then the new one renamed in, then the old one deleted. ``exports/latest`` is a relative symlink
to the newest dated folder, replaced with ``os.replace`` of a freshly made temporary symlink.
Dated folders beyond the retention count are pruned. Every change to the tree happens under an
exclusive ``flock`` on ``exports/.lock``, so the scheduled export and an ad-hoc one never
interleave, and leftovers of a killed export (hidden ``.tmp-``/``.old-`` entries) can be removed
safely by whoever holds the lock next.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from exports.errors import ExportError
from petpro.durability import fsync_dir
from petpro.export_layout import DATED, LATEST, MANIFEST


@contextlib.contextmanager
def tree_lock(exports_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of an export tree (blocks until the other export is done)."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    with (exports_dir / ".lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def remove_leftovers(parent: Path) -> list[Path]:
    """Delete staging/aside folders and temp links a killed export left behind (lock held)."""
    removed = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        if entry.name.startswith((".tmp-", ".old-", ".latest-")):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def staging_dir(final: Path) -> Path:
    """A new, empty, hidden folder beside ``final`` to build it in."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex}"
    tmp.mkdir()
    return tmp


def check_replaceable(final: Path) -> None:
    """Refuse to replace a folder that is not an export (``--out`` pointing at $HOME, say)."""
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise ExportError(f"{final} exists and is not a folder: choose another --out path")
    if final.is_dir() and any(final.iterdir()) and not (final / MANIFEST).is_file():
        raise ExportError(
            f"{final} is a non-empty folder that holds no export ({MANIFEST} missing); it would "
            "be replaced as a whole: choose a new or empty folder for --out"
        )


def swap_into_place(tmp: Path, final: Path) -> None:
    """Rename the finished ``tmp`` folder to ``final``, replacing what was there."""
    fsync_dir(tmp)
    aside: Path | None = None
    if final.exists() or final.is_symlink():
        aside = final.parent / f".old-{final.name}-{uuid.uuid4().hex}"
        os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except OSError:
        if aside is not None:
            os.rename(aside, final)  # put the previous export back
        raise
    fsync_dir(final.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def dated_folders(exports_dir: Path) -> list[Path]:
    """The complete dated folders of the tree, oldest first."""
    if not exports_dir.is_dir():
        return []
    return sorted(
        (
            p
            for p in exports_dir.iterdir()
            if DATED.match(p.name) and p.is_dir() and not p.is_symlink()
        ),
        key=lambda p: p.name,
    )


def update_latest(exports_dir: Path) -> Path | None:
    """Point ``exports/latest`` at the newest dated folder (atomically); return its target."""
    folders = dated_folders(exports_dir)
    link = exports_dir / LATEST
    if not folders:
        if link.is_symlink():
            link.unlink()
        return None
    newest = folders[-1]
    if link.is_symlink() and os.readlink(link) == newest.name:
        return newest
    tmp = exports_dir / f".latest-{uuid.uuid4().hex}"
    os.symlink(newest.name, tmp)  # relative: the tree can be moved or mounted elsewhere
    os.replace(tmp, link)
    fsync_dir(exports_dir)
    return newest


def prune(exports_dir: Path, keep: int, *, protect: Path | None = None) -> list[Path]:
    """Delete the oldest dated folders beyond ``keep`` (never ``protect``); return them."""
    folders = dated_folders(exports_dir)
    keep = max(keep, 1)
    doomed = [p for p in folders[: max(len(folders) - keep, 0)] if p != protect]
    for folder in doomed:
        # Renamed aside first so a reader never sees a half-deleted folder under its date.
        aside = exports_dir / f".old-{folder.name}-{uuid.uuid4().hex}"
        os.rename(folder, aside)
        shutil.rmtree(aside, ignore_errors=True)
    return doomed
