"""Removing files as large as a guest's RAM or disk without holding the filesystem.

Unlinked at once, a large file has all its blocks freed by the filesystem in one go, and on
ext4 that held the other writers of the same filesystem for as long: a 1 GiB memory state
file held the guest's own disk writes for about 130 ms (``docs/benchmarks.md``, "Delete: how
long the guest is held"), and a volume of tens of GiB holds every VM whose disks share the
filesystem for longer. So a file is renamed to a hidden name first (nothing of it is ever
left under its own name, and the folder is fsynced before its data goes), then given back
from its end ``RELEASE_STEP`` bytes at a time, each step followed by a pause as long as it
took, then unlinked. Freed this way, no step held the guest's writes longer than they
usually take.
"""

from __future__ import annotations

import errno
import os
import stat
import time

DELETING = ".deleting"
RELEASE_STEP = 64 << 20


def doomed(path: str) -> str:
    """The hidden name ``path`` has while it is being removed."""
    return os.path.join(os.path.dirname(path),
                        f".{os.path.basename(path).lstrip('.')}{DELETING}")


def release(path: str) -> bool:
    """Remove ``path``, and what a crash left of an earlier removal of it; idempotent (a
    resent delete finishes the one a crash interrupted). Whether there was anything."""
    hidden = doomed(path)
    found = _free(hidden)
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            raise IsADirectoryError(errno.EISDIR, "a folder is not removed as a file", path)
        os.rename(path, hidden)
    except FileNotFoundError:
        return found
    fsync_dir(os.path.dirname(path))
    _free(hidden)
    return True


def _free(path: str) -> bool:
    """Give a file's blocks back from its end in steps, then unlink it. Anything but a
    regular file (a symbolic link planted under the name, say) is only unlinked: nothing it
    points to is touched."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        fd = -1
    try:
        info = os.fstat(fd) if fd >= 0 else None
        if info is not None and stat.S_ISREG(info.st_mode):
            left = info.st_size
            while left > 0:
                left = max(0, left - RELEASE_STEP)
                started = time.monotonic()
                os.ftruncate(fd, left)
                if left:
                    time.sleep(max(0.001, time.monotonic() - started))
    finally:
        if fd >= 0:
            os.close(fd)
    os.unlink(path)
    return True


def fsync_dir(folder: str) -> None:
    """Make a folder's entries (a rename, an unlink) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
