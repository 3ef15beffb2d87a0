"""Ceph RBD volumes through the ``rbd`` command-line tool.

The driver talks to Ceph with the ``rbd`` CLI rather than the ``rbd``/``rados`` Python
bindings: those exist only as Debian packages built for the system Python (none on PyPI),
so a virtualenv would need ``--system-site-packages`` or path tricks, while the CLI works
the same everywhere for ~50 ms a call, most of it process start. Every call names the
monitor, the user and the keyring of the configured pool, so nothing is read from
``/etc/ceph`` unless asked.

A volume on RBD is identified as ``rbd:<pool>/<image>``; pool and image names are checked
so that nothing a command sends can become an option or another pool's image.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import time
from dataclasses import dataclass

from driver.core.errors import HypervisorError, InvalidRequest, NotFound

SCHEME = "rbd:"
# RBD snapshots that are CloudStack volume snapshots, not VM snapshots, start with this; a
# volume snapshot taken from a VM snapshot is an image of its own, <image>.volume-<name>.
VOLUME_SNAPSHOT_PREFIX = "volume-"
TIMEOUT = 300
# RBD pool, image and snapshot names: no '/', '@', whitespace or control characters, and
# never a leading '-' (it would read as an option).
_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.+:=-]{0,127}")


def check_name(name: str, what: str) -> str:
    """``name`` if it is a safe RBD pool, image or snapshot name; else InvalidRequest."""
    if not _NAME.fullmatch(name or ""):
        raise InvalidRequest(f"Invalid RBD {what} name {name!r}")
    return name


@dataclass(frozen=True)
class RbdImage:
    """An image in a pool: ``rbd:<pool>/<image>``."""

    pool: str
    name: str

    @property
    def spec(self) -> str:
        return f"{self.pool}/{self.name}"

    @property
    def path(self) -> str:
        """The image's identity where the driver keeps disk paths."""
        return f"{SCHEME}{self.spec}"

    @classmethod
    def parse(cls, path: str) -> RbdImage:
        """The image named by ``rbd:<pool>/<image>``."""
        if not path.startswith(SCHEME) or path.count("/") != 1:
            raise InvalidRequest(f"{path!r} does not name an RBD image")
        pool, name = path[len(SCHEME):].split("/")
        return cls(check_name(pool, "pool"), check_name(name, "image"))


def is_rbd(path: str) -> bool:
    """Whether a disk path names an RBD image."""
    return path.startswith(SCHEME)


@dataclass(frozen=True)
class Cluster:
    """How to reach the Ceph cluster of a pool: monitors, and optionally a user and its
    keyring, or a ``ceph.conf``."""

    monitors: str = ""  # "host:port[,host:port]"
    user: str = ""  # without "client."
    keyring: str = ""
    conf: str = ""

    def args(self) -> list[str]:
        out = []
        if self.conf:
            out += ["-c", self.conf]
        if self.monitors:
            out += ["-m", self.monitors]
        if self.user:
            out += ["--id", self.user]
        if self.keyring:
            out += ["--keyring", self.keyring]
        return out


def check_exit(returncode: int, output: str, doing: str) -> None:
    """Translate a failed ``rbd`` run into the driver's errors (nothing if it succeeded)."""
    if returncode == 0:
        return
    text = output.strip()
    lines = text.splitlines()
    last = lines[-1] if lines else f"rc {returncode}"
    # rbd says "(2) No such file or directory", or for a snapshot on some paths
    # "No such snapshot found." (exit 2): both mean the object is not there.
    if returncode == 2 or "(2) No such file or directory" in text or "No such snapshot" in text:
        raise NotFound(f"{doing} failed: {last}")
    if "still has watchers" in text:  # the image is open, or its crashed client's watch
        raise ImageBusy(f"{doing} failed: the image is still open by another client")
    raise HypervisorError(f"{doing} failed: {last}")


class ImageBusy(HypervisorError):
    """An image is open by another client (or by one that crashed less than Ceph's watch
    timeout ago, ~30 s): it cannot be removed yet."""


class Rbd:
    """The operations the driver needs on RBD images and their snapshots."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def command(self, args: list[str]) -> list[str]:
        """The ``rbd`` command line for ``args`` against this cluster."""
        return ["rbd", *self.cluster.args(), *args]

    def _run(self, args: list[str], doing: str, *, timeout: float = TIMEOUT,
             input: bytes | None = None) -> str:
        try:
            proc = subprocess.run(self.command(args), capture_output=True, input=input,
                                  timeout=timeout, check=False)
        except FileNotFoundError:
            raise HypervisorError(f"{doing} failed: the rbd tool is not installed") from None
        except subprocess.TimeoutExpired:
            raise HypervisorError(f"{doing} failed: rbd did not finish in {timeout} s") from None
        check_exit(proc.returncode, proc.stderr.decode(errors="replace")
                   or proc.stdout.decode(errors="replace"), doing)
        return proc.stdout.decode(errors="replace")

    # --- images -----------------------------------------------------------------------------

    def create(self, image: RbdImage, size: int) -> None:
        """A new image of ``size`` bytes (rounded up to whole MiB, as rbd sizes go)."""
        if size <= 0:
            raise InvalidRequest("a volume needs a positive size")
        mib = -(-size // (1 << 20))
        self._run(["create", "--size", f"{mib}M", image.spec], f"Creating {image.path}")

    def remove(self, image: RbdImage) -> None:
        """Remove the image and its snapshots; an image already gone is fine."""
        try:
            self._run(["snap", "purge", image.spec], f"Removing the snapshots of {image.path}")
            self._run(["rm", "--no-progress", image.spec], f"Removing {image.path}")
        except NotFound:
            pass

    def remove_when_free(self, image: RbdImage, wait: float = 60.0) -> None:
        """Remove an image without snapshots, waiting up to ``wait`` seconds while a client
        still has it open (a writer finishing, or the watch of one killed, which Ceph
        drops after its timeout); an image already gone is fine."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self._run(["rm", "--no-progress", image.spec], f"Removing {image.path}")
                return
            except NotFound:
                return
            except ImageBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def images(self, pool: str) -> list[str]:
        """The names of the images in ``pool``."""
        check_name(pool, "pool")
        return [str(n) for n in json.loads(self._run(["ls", "--format", "json", pool],
                                                     f"Listing the images of {pool}"))]

    def rename(self, image: RbdImage, name: str) -> RbdImage:
        """Rename an image within its pool; return the new one."""
        target = RbdImage(image.pool, check_name(name, "image"))
        self._run(["rename", image.spec, target.spec], f"Renaming {image.path}")
        return target

    def copy(self, image: RbdImage, snap: str, target: RbdImage) -> None:
        """A new, independent image holding ``image`` as its snapshot ``snap`` holds it
        (``rbd cp``: sparse, readable while a VM holds the source)."""
        check_name(snap, "snapshot")
        self._run(["cp", "--no-progress", f"{image.spec}@{snap}", target.spec],
                  f"Copying {image.path}@{snap}")

    def write_at(self, image: RbdImage, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` of an image no one else writes (an ``rbd diff v1``
        stream of one extent through ``rbd import-diff``: the CLI has no plain write)."""
        diff = (b"rbd diff v1\n" + b"w" + struct.pack("<QQ", offset, len(data)) + data
                + b"e")
        self._run(["import-diff", "--no-progress", "-", image.spec],
                  f"Writing to {image.path}", input=diff)

    def read_head(self, image: RbdImage, length: int) -> bytes:
        """The first ``length`` bytes of an image (b"" if it has none or is gone)."""
        try:
            proc = subprocess.Popen(self.command(["export", "--no-progress", image.spec, "-"]),
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except FileNotFoundError:
            raise HypervisorError("the rbd tool is not installed") from None
        assert proc.stdout is not None
        try:
            data = proc.stdout.read(length)
        finally:
            proc.kill()  # a reader only: nothing is left open on the cluster
            proc.stdout.close()
            proc.wait()
        return data

    def exists(self, image: RbdImage) -> bool:
        try:
            self._run(["info", image.spec], f"Reading {image.path}")
            return True
        except NotFound:
            return False

    def size(self, image: RbdImage) -> int:
        """The image's provisioned size in bytes."""
        info = json.loads(self._run(["info", "--format", "json", image.spec],
                                    f"Reading {image.path}"))
        return int(info["size"])

    def resize(self, image: RbdImage, size: int) -> None:
        mib = -(-size // (1 << 20))
        self._run(["resize", "--no-progress", "--allow-shrink", "--size", f"{mib}M",
                   image.spec], f"Resizing {image.path}")

    def used_bytes(self, image: RbdImage) -> dict[str, int]:
        """Bytes each snapshot holds on its own and the head holds (key ``""``), as
        ``rbd du`` reports them (fast with the object-map feature)."""
        out = json.loads(self._run(["du", "--format", "json", image.spec],
                                   f"Measuring {image.path}"))
        return {str(i.get("snapshot", "")): int(i["used_size"]) for i in out.get("images", [])
                if i.get("name") == image.name}

    def import_file(self, path: str, image: RbdImage) -> None:
        """Store a local file as a new image."""
        self._run(["import", "--no-progress", path, image.spec], f"Storing {image.path}")

    def export_file(self, image: RbdImage, path: str) -> None:
        """Write an image into a new local file (rbd refuses a path that exists, a FIFO
        included: see :mod:`driver.hypervisors.libvirt.rbdstate` for streaming one)."""
        self._run(["export", "--no-progress", image.spec, path], f"Reading {image.path}")

    # --- snapshots --------------------------------------------------------------------------

    def snapshots(self, image: RbdImage) -> list[str]:
        out = json.loads(self._run(["snap", "ls", "--format", "json", image.spec],
                                   f"Listing the snapshots of {image.path}"))
        return [str(s["name"]) for s in out]

    def snap_create(self, image: RbdImage, snap: str) -> None:
        check_name(snap, "snapshot")
        self._run(["snap", "create", "--no-progress", f"{image.spec}@{snap}"],
                  f"Snapshot {snap} of {image.path}")

    def snap_remove(self, image: RbdImage, snap: str) -> None:
        """Remove a snapshot; one already gone is fine."""
        check_name(snap, "snapshot")
        try:
            self._run(["snap", "rm", "--no-progress", f"{image.spec}@{snap}"],
                      f"Delete of {snap} from {image.path}")
        except NotFound:
            pass

    def snap_rollback(self, image: RbdImage, snap: str) -> None:
        """Roll the image back to a snapshot. Refused while a running QEMU holds the image's
        exclusive lock (rbd answers EROFS): the VM must be stopped."""
        check_name(snap, "snapshot")
        try:
            self._run(["snap", "rollback", "--no-progress", f"{image.spec}@{snap}"],
                      f"Revert of {image.path} to {snap}")
        except HypervisorError as exc:
            if "(30) Read-only file system" in exc.details:
                raise HypervisorError(f"Revert of {image.path} to {snap} refused: a running "
                                      "VM holds the image (stop it first)") from None
            raise
