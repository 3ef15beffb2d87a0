"""cloudstack-vmsnap simulator: a CloudStack management server in a box."""

__version__ = "0.1.0"
