"""The memory state of a live snapshot: one file in the VM's pool, beside its root disk.

The file is in libvirt's QEMU save-image format (version 2) so that libvirt itself can
restore it (``restoreFlags``): a 92-byte header, the domain XML and a NUL, then QEMU's
migration stream. It is written under a hidden ``.partial`` name with libvirt's own
"incomplete" magic, fsynced, given the complete magic, fsynced again and only then renamed
into place (and the directory fsynced): a file under the final name is always complete, and
a half-written one is refused by libvirt even if someone renamed it. It is removed the
other way round: renamed to a hidden name first, then given back to the filesystem in steps
(``driver/files.py``), so that removing a file as large as the guest's RAM never holds the
filesystem's other writers for long.

Nothing here knows how disks are snapshotted: any storage whose disks have their own
snapshot mechanism (qcow2 tags, RBD snapshots) keeps its memory state the same way. Where
the state lives (this file, or an RBD image: ``rbdstate.py``) is chosen in ``states.py``.
"""

from __future__ import annotations

import os
import struct

from driver import files
from driver.core.errors import HypervisorError, InvalidRequest
from driver.paths import STATE_SUFFIX

MAGIC_PARTIAL = b"LibvirtQemudPart"
MAGIC_COMPLETE = b"LibvirtQemudSave"
VERSION = 2
# magic, version, data_len, was_running, compressed, cookieOffset, unused[14]
HEADER = struct.Struct("<16s5I56x")


def header(domain_xml: str, *, running: bool) -> bytes:
    """What precedes QEMU's stream: the header (with the "incomplete" magic) and the XML."""
    xml = domain_xml.encode() + b"\0"
    return HEADER.pack(MAGIC_PARTIAL, VERSION, len(xml), int(running), 0, 0) + xml


def state_path(folder: str, vm: str, snapshot: str) -> str:
    """``<folder>/<vm>@<snapshot>.vmstate`` (the folder is the root disk's, or the one
    configured for VMs on RBD: inside a configured pool either way), refused if the name
    would leave that folder."""
    folder = os.path.realpath(folder)
    name = f"{vm}@{snapshot}{STATE_SUFFIX}"
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
    """Remove the state file and any partial one, each out of its name first and then freed
    in steps (:func:`driver.files.release`); idempotent."""
    if any([files.release(p) for p in (path, partial_path(path))]):
        files.fsync_dir(os.path.dirname(path))


class StateWriter:
    """One state file being written: the header now, QEMU's stream through :attr:`fd`."""

    def __init__(self, path: str, domain_xml: str, *, running: bool) -> None:
        self.path = path
        self.partial = partial_path(path)
        if os.path.exists(path):
            raise InvalidRequest(f"A memory state file already exists at {path}")
        files.release(self.partial)  # left by an earlier crash: never complete, never reused
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
            files.fsync_dir(os.path.dirname(self.path))
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
        files.release(self.partial)
