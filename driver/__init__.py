"""cloudstack-vmsnap driver: CloudStack VM snapshot agent commands over HTTP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cloudstack-vmsnap")  # one version, in setup.cfg
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
