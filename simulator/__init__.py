"""cloudstack-vmsnap simulator: a CloudStack management server in a box."""

from driver import __version__  # one distribution, one version

__all__ = ["__version__"]
