"""Command handlers, one module per family. Importing this package registers them all."""

from simulator.api.commands import (  # noqa: F401
    accounts,
    infra,
    jobs,
    keypairs,
    limits,
    network_infra,
    networks,
    offerings,
    reconcile,
    records,
    system,
    tags,
    vms,
    vmsnapshots,
    volumes,
)
