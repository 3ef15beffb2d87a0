"""The libvirt backend: the only code in the project that imports ``libvirt``.

``connection`` owns the connection, ``guest`` wraps one domain; the mechanisms are each a
small module: ``tags`` and ``rbd_disks`` (how disks are snapshotted), ``memstate`` (the
memory state's format and its file), ``states`` (where memory states are kept: files, or RBD
images with ``rbdstate``), ``live`` (live memory capture), ``userfault`` (whether QEMU may
write-protect guest RAM on this host), ``internal`` (``savevm`` snapshots, in-place revert),
``restore`` (revert of a live snapshot); ``errors`` translates libvirt's errors.
"""

from driver.hypervisors.libvirt.connection import LibvirtHost
from driver.hypervisors.libvirt.live import LiveOptions

__all__ = ["LibvirtHost", "LiveOptions"]
