"""The driver's own errors. Every failure a client can cause is one of these.

Each carries a one-sentence ``details`` text that goes into a CloudStack answer as is.
"""


class DriverError(Exception):
    """Base class: an operation failed with a message fit for an answer's ``details``."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


class InvalidRequest(DriverError):
    """The command itself is wrong (bad names, bad paths, impossible combination)."""


class NotFound(DriverError):
    """A VM or a snapshot does not exist."""


class Busy(DriverError):
    """Another operation on the same VM is in progress."""


class InvalidTransition(DriverError):
    """A snapshot state change that CloudStack's state machine does not allow."""


class QuiesceError(DriverError):
    """Freezing the guest's filesystems failed, timed out or had no agent to talk to."""


class HypervisorError(DriverError):
    """The hypervisor refused or failed an operation."""


class Unsupported(DriverError):
    """The backend cannot do this operation at all."""
