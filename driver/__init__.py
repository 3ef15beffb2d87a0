"""cloudstack-vmsnap driver: CloudStack VM snapshot agent commands over HTTP."""

__version__ = "0.1.0"
