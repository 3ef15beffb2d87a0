"""The libvirt backend: the only code in the project that imports ``libvirt``."""

from driver.hypervisors.libvirt.host import LibvirtHost

__all__ = ["LibvirtHost"]
