"""Snapshot records, CloudStack's enums and its complete VM snapshot state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from driver.core.errors import InvalidTransition


class SnapshotType(StrEnum):
    """``VMSnapshot.Type``: disks only, or disks with memory and CPU state."""

    DISK = "Disk"
    DISK_AND_MEMORY = "DiskAndMemory"


class State(StrEnum):
    """``VMSnapshot.State``."""

    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    REVERTING = "Reverting"
    EXPUNGING = "Expunging"
    REMOVED = "Removed"
    ERROR = "Error"
    HIDDEN = "Hidden"


class Event(StrEnum):
    """``VMSnapshot.Event``."""

    CREATE_REQUESTED = "CreateRequested"
    OPERATION_FAILED = "OperationFailed"
    OPERATION_SUCCEEDED = "OperationSucceeded"
    REVERT_REQUESTED = "RevertRequested"
    EXPUNGE_REQUESTED = "ExpungeRequested"
    HIDE = "Hide"


class PowerState(StrEnum):
    """``VirtualMachine.PowerState`` as reported in revert answers."""

    ON = "PowerOn"
    OFF = "PowerOff"
    UNKNOWN = "PowerUnknown"
    MISSING = "PowerReportMissing"


# The complete transition list of CloudStack's VMSnapshot state machine.
TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.ALLOCATED, Event.CREATE_REQUESTED): State.CREATING,
    (State.CREATING, Event.OPERATION_SUCCEEDED): State.READY,
    (State.CREATING, Event.OPERATION_FAILED): State.ERROR,
    (State.READY, Event.REVERT_REQUESTED): State.REVERTING,
    (State.REVERTING, Event.OPERATION_SUCCEEDED): State.READY,
    (State.REVERTING, Event.OPERATION_FAILED): State.READY,
    (State.READY, Event.EXPUNGE_REQUESTED): State.EXPUNGING,
    (State.ERROR, Event.EXPUNGE_REQUESTED): State.EXPUNGING,
    (State.EXPUNGING, Event.EXPUNGE_REQUESTED): State.EXPUNGING,
    (State.EXPUNGING, Event.OPERATION_SUCCEEDED): State.REMOVED,
    (State.EXPUNGING, Event.OPERATION_FAILED): State.ERROR,
    (State.EXPUNGING, Event.HIDE): State.HIDDEN,
    (State.HIDDEN, Event.EXPUNGE_REQUESTED): State.EXPUNGING,
}

# States in which a snapshot blocks any other snapshot operation on its VM.
ACTIVE_STATES = frozenset({State.ALLOCATED, State.CREATING, State.REVERTING, State.EXPUNGING})


def transition(state: State, event: Event) -> State:
    """Return the state reached from ``state`` by ``event``, or refuse as CloudStack does."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"Unable to transition to a new state from {state.value} via {event.value}"
        ) from None


@dataclass
class Disk:
    """One disk of a VM as the snapshot saw it: the device and its image file."""

    target: str
    path: str


@dataclass
class Snapshot:
    """A VM snapshot as the driver records it."""

    vm: str
    name: str
    type: SnapshotType
    parent: str | None = None
    current: bool = False
    created: float = 0.0
    description: str = ""
    quiesced: bool = False
    freeze_window_ms: float | None = None
    disks: list[Disk] = field(default_factory=list)

    @property
    def has_memory(self) -> bool:
        return self.type is SnapshotType.DISK_AND_MEMORY
