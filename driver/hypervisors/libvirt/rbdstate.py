"""Memory states kept in RBD images of one Ceph pool (``rbd_memory_pool``), beside the disks
of VMs on RBD: no shared filesystem needed, and every host of the cluster reaches them.

``<vm>.vmstate.<snapshot>`` holds the same bytes as a state file (``memstate.py``). QEMU's
stream is never staged in a local file: it goes into a pipe whose reader is
``rbd import - <pool>/<vm>.vmstate.<snapshot>.partial`` (the image grows as the stream
arrives; no size is needed up front). Once QEMU reports the stream complete and the
importer has exited 0, the header gets libvirt's "complete" magic (``rbd import-diff`` of
one 16-byte extent: the CLI has no plain write) and only then is the image renamed to its
final name. A ``.partial`` image is never taken for a complete one: by its name, and by
libvirt's magic if someone renamed it.

The importer runs in a session of its own so that it outlives a driver killed mid-capture:
it then ends cleanly when QEMU's stream does (start-up recovery ends it), and the partial
image is removed without waiting for Ceph to expire a dead client's watch (~30 s, which
:meth:`Rbd.remove_when_free` waits out if the importer was killed too).

A revert reads the image back through a FIFO: ``rbd export <image> -`` writes into it and
libvirt's ``restoreFlags`` reads it; no local copy either way.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from driver.core.errors import DriverError, HypervisorError, InvalidRequest
from driver.hypervisors.libvirt import memstate
from driver.hypervisors.libvirt.states import MemoryStates, StateSink
from driver.storage.rbd import Rbd, RbdImage, check_exit, check_name

log = logging.getLogger(__name__)

INFIX = ".vmstate."
PARTIAL = ".partial"
PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size: fewer wake-ups between QEMU and rbd
FINISH_TIMEOUT = 600.0  # seconds the importer may take to store the end of the stream


class RbdStateWriter:
    """One state streamed into ``<final>.partial`` by ``rbd import -``."""

    def __init__(self, rbd: Rbd, final: RbdImage, domain_xml: str, *, running: bool) -> None:
        self.rbd = rbd
        self.final = final
        self.partial = RbdImage(final.pool, final.name + PARTIAL)
        self.fd = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by commit/discard
        if rbd.exists(final):
            raise InvalidRequest(f"A memory state image already exists at {final.path}")
        rbd.remove_when_free(self.partial)  # left by an earlier crash: never reused
        read_fd, self.fd = os.pipe()
        try:
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # a smaller pipe only means more wake-ups
        try:
            self._proc = subprocess.Popen(
                rbd.command(["import", "--no-progress", "-", self.partial.spec]),
                stdin=read_fd, stdout=subprocess.DEVNULL, stderr=self._errors,
                start_new_session=True)
        except FileNotFoundError:
            self.discard()
            raise HypervisorError("Storing a memory state failed: the rbd tool is not "
                                  "installed") from None
        finally:
            os.close(read_fd)
        try:
            data = memstate.header(domain_xml, running=running)
            while data:
                data = data[os.write(self.fd, data):]
        except OSError as exc:
            self.discard()
            raise HypervisorError(f"Writing the memory state {self.partial.path} failed: "
                                  f"{exc}") from None

    def _importer_output(self) -> str:
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace")

    def commit(self) -> int:
        """QEMU has finished: wait for the importer, mark the header complete, give the
        image its final name; return its bytes on storage."""
        try:
            self._close_fd()
            assert self._proc is not None
            try:
                rc = self._proc.wait(FINISH_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise HypervisorError(f"Storing the memory state {self.final.path} did not "
                                      f"finish in {FINISH_TIMEOUT:g} s") from None
            check_exit(rc, self._importer_output(), f"Storing the memory state "
                                                    f"{self.final.path}")
            self.rbd.write_at(self.partial, 0, memstate.MAGIC_COMPLETE)
            self.rbd.rename(self.partial, self.final.name)
        except DriverError:
            self.discard()
            raise
        self._errors.close()
        return self.rbd.used_bytes(self.final).get("", 0)

    def discard(self) -> None:
        """Close the stream, let the importer end (QEMU no longer writes: the capture was
        stopped), remove the partial image; idempotent, never raises."""
        self._close_fd()
        if self._proc is not None:
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()  # its watch expires on its own; removal waits for it
                self._proc.wait()
        try:
            self.rbd.remove_when_free(self.partial)
        except DriverError as exc:
            log.warning("partial memory state left on the cluster: %s", exc.details,
                        extra={"image": self.partial.path})
        self._errors.close()

    def _close_fd(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


class RbdStates(MemoryStates):
    """States as images ``<vm>.vmstate.<snapshot>`` of one pool."""

    def __init__(self, rbd: Rbd, pool: str) -> None:
        self.rbd = rbd
        self.pool = check_name(pool, "pool")

    def image(self, vm: str, snapshot: str) -> RbdImage:
        try:
            name = check_name(f"{vm}{INFIX}{snapshot}", "image")
            check_name(name + PARTIAL, "image")
        except InvalidRequest:
            raise InvalidRequest(f"Snapshot {snapshot} of {vm} cannot be named as an RBD "
                                 "image") from None
        return RbdImage(self.pool, name)

    def _partial(self, vm: str, snapshot: str) -> RbdImage:
        final = self.image(vm, snapshot)
        return RbdImage(final.pool, final.name + PARTIAL)

    def check(self, vm: str, snapshot: str) -> None:
        self.image(vm, snapshot)

    def _names(self, vm: str) -> list[str]:
        prefix = f"{vm}{INFIX}"
        return [n for n in self.rbd.images(self.pool) if n.startswith(prefix)]

    def held(self, vm: str) -> set[str]:
        prefix = f"{vm}{INFIX}"
        return {n[len(prefix):].removesuffix(PARTIAL) for n in self._names(vm)}

    def _there(self, vm: str, snapshot: str, *, partial: bool) -> bool:
        try:
            image = self._partial(vm, snapshot) if partial else self.image(vm, snapshot)
        except InvalidRequest:
            return False  # no image can have this name: none is there
        return self.rbd.exists(image)

    def stored(self, vm: str, snapshot: str) -> bool:
        return self._there(vm, snapshot, partial=False)

    def interrupted(self, vm: str, snapshot: str) -> bool:
        return self._there(vm, snapshot, partial=True)

    def complete(self, vm: str, snapshot: str) -> bool:
        return self.stored(vm, snapshot) and self.rbd.read_head(
            self.image(vm, snapshot), len(memstate.MAGIC_COMPLETE)) == memstate.MAGIC_COMPLETE

    def writer(self, vm: str, snapshot: str, domain_xml: str, *, running: bool) -> StateSink:
        return RbdStateWriter(self.rbd, self.image(vm, snapshot), domain_xml, running=running)

    def remove(self, vm: str, snapshot: str) -> None:
        try:
            images = [self.image(vm, snapshot), self._partial(vm, snapshot)]
        except InvalidRequest:
            return  # no image can have this name: none to remove
        for image in images:
            self.rbd.remove_when_free(image)

    def stored_bytes(self, vm: str) -> int:
        return sum(self.rbd.used_bytes(RbdImage(self.pool, n)).get("", 0)
                   for n in self._names(vm))

    @contextmanager
    def _restorable(self, vm: str, snapshot: str) -> Iterator[str]:
        image = self.image(vm, snapshot)
        folder = tempfile.mkdtemp(prefix="vmsnap-restore-")
        fifo = os.path.join(folder, "state")
        os.mkfifo(fifo, 0o600)
        # rbd refuses to export into a path that exists, FIFOs included: a shell opens the
        # FIFO as rbd's standard output (blocking there until libvirt opens it to read).
        try:
            proc = subprocess.Popen(
                ["sh", "-c", 'exec "$@" > "$0"', fifo,
                 *self.rbd.command(["export", "--no-progress", image.spec, "-"])],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise HypervisorError(f"Reading the memory state {image.path} failed: {exc}") \
                from None
        try:
            yield fifo
        finally:
            if proc.poll() is None:
                proc.kill()  # a reader only: nothing is left open on the cluster
            proc.wait()
            shutil.rmtree(folder, ignore_errors=True)

    def restorable(self, vm: str, snapshot: str) -> AbstractContextManager[str]:
        return self._restorable(vm, snapshot)
