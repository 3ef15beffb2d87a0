"""The memory state of a live snapshot: one file in the VM's pool, beside its root disk.

The file is in libvirt's QEMU save-image format (version 2) so that libvirt itself can
restore it (``restoreFlags``): a 92-byte header, the domain XML and a NUL, then QEMU's
migration stream. It is written under a hidden ``.partial`` name with libvirt's own
"incomplete" magic, fsynced, given the complete magic, fsynced again and only then renamed
into place (and the directory fsynced): a file under the final name is always complete, and
a half-written one is refused by libvirt even if someone renamed it. It is removed the
other way round: renamed to a hidden ``.deleting`` name first, then given back to the
filesystem from its end in steps (``RELEASE_STEP``), so that removing a file as large as the
guest's RAM never holds the filesystem's other writers for long.

Nothing here knows how disks are snapshotted: any storage whose disks have their own
snapshot mechanism (qcow2 tags, RBD snapshots) keeps its memory state the same way. Where
the state lives (this file, or an RBD image: ``rbdstate.py``) is chosen in ``states.py``.
"""

from __future__ import annotations

import os
import stat
import struct
import time

from driver.core.errors import HypervisorError, InvalidRequest

MAGIC_PARTIAL = b"LibvirtQemudPart"
MAGIC_COMPLETE = b"LibvirtQemudSave"
VERSION = 2
# magic, version, data_len, was_running, compressed, cookieOffset, unused[14]
HEADER = struct.Struct("<16s5I56x")
SUFFIX = ".vmstate"
DELETING = ".deleting"
# A state file is as large as the guest's RAM. Unlinked at once, the filesystem frees all its
# blocks in one go, and on ext4 that held the other writers of the filesystem (the guest's
# own disk among them) for 60-100 ms at 2 GiB of RAM, growing with RAM; freed from its end
# in steps of this size, no step held them for longer than the guest's usual writes took
# (docs/benchmarks.md, "Delete: how long the guest is held").
RELEASE_STEP = 64 << 20


def header(domain_xml: str, *, running: bool) -> bytes:
    """What precedes QEMU's stream: the header (with the "incomplete" magic) and the XML."""
    xml = domain_xml.encode() + b"\0"
    return HEADER.pack(MAGIC_PARTIAL, VERSION, len(xml), int(running), 0, 0) + xml


def state_path(folder: str, vm: str, snapshot: str) -> str:
    """``<folder>/<vm>@<snapshot>.vmstate`` (the folder is the root disk's, or the one
    configured for VMs on RBD: inside a configured pool either way), refused if the name
    would leave that folder."""
    folder = os.path.realpath(folder)
    name = f"{vm}@{snapshot}{SUFFIX}"
    path = os.path.join(folder, name)
    if os.sep in name or name.startswith(".") or os.path.dirname(path) != folder:
        raise InvalidRequest(f"Snapshot {snapshot} of {vm} cannot be named as a file")
    return path


def partial_path(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial")


def exists(path: str) -> bool:
    """Whether anything of this state file (complete or partial) is on storage."""
    return os.path.exists(path) or os.path.exists(partial_path(path))


def is_complete(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC_COMPLETE)) == MAGIC_COMPLETE
    except OSError:
        return False


def size(path: str) -> int:
    """Bytes the state file occupies on storage (0 if there is none)."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def remove(path: str) -> None:
    """Remove the state file and any partial one; idempotent."""
    if any([_release(p) for p in (path, partial_path(path))]):
        _fsync_dir(os.path.dirname(path))


def _doomed(path: str) -> str:
    """The hidden name a file is renamed to while it is being removed."""
    return os.path.join(os.path.dirname(path),
                        f".{os.path.basename(path).lstrip('.')}{DELETING}")


def _release(path: str) -> bool:
    """Remove one file, and what a crash left of an earlier removal of it: renamed out of
    the way first (nothing of it is ever left under its own name), then freed in steps.
    Whether there was anything to remove."""
    doomed = _doomed(path)
    found = _free(doomed)
    try:
        os.rename(path, doomed)
    except FileNotFoundError:
        return found
    _fsync_dir(os.path.dirname(path))
    _free(doomed)
    return True


def _free(path: str) -> bool:
    """Give a file's blocks back from its end, ``RELEASE_STEP`` bytes at a time with a pause
    as long as each step took, then unlink it. Anything but a regular file (a symlink
    planted under the name, say) is only unlinked: nothing outside the pool is touched."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        fd = -1
    try:
        if fd >= 0 and stat.S_ISREG(os.fstat(fd).st_mode):
            left = os.fstat(fd).st_size
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


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateWriter:
    """One state file being written: the header now, QEMU's stream through :attr:`fd`."""

    def __init__(self, path: str, domain_xml: str, *, running: bool) -> None:
        self.path = path
        self.partial = partial_path(path)
        if os.path.exists(path):
            raise InvalidRequest(f"A memory state file already exists at {path}")
        _release(self.partial)  # left by an earlier crash: never complete, never reused
        self.fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                          0o600)
        try:
            os.write(self.fd, header(domain_xml, running=running))
        except OSError as exc:
            self.discard()
            raise HypervisorError(f"Writing the memory state of {path} failed: {exc}") from None

    def commit(self) -> int:
        """QEMU has finished: make the file durable and complete under its final name;
        return its size on storage."""
        try:
            os.fsync(self.fd)
            os.pwrite(self.fd, MAGIC_COMPLETE, 0)
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1
            os.rename(self.partial, self.path)
            _fsync_dir(os.path.dirname(self.path))
        except OSError as exc:
            self.discard()
            raise HypervisorError(f"Writing the memory state {self.path} failed: {exc}") from None
        return size(self.path)

    def discard(self) -> None:
        """Close and remove the partial file; idempotent."""
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1
        _release(self.partial)
