"""cloudstack-vmsnap simulator: a CloudStack management server in a box."""

from driver import __version__  # one distribution, one version

# The CloudStack version the simulator answers as (listCapabilities, the XML root's
# ``cloud-stack-version``, listManagementServers), with its own after it.
CLOUDSTACK_VERSION = f"4.22.0.0-vmsnap-{__version__}"

__all__ = ["CLOUDSTACK_VERSION", "__version__"]
