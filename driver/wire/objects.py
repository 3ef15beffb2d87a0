"""Transfer objects: VMSnapshotTO, VolumeObjectTO, PrimaryDataStoreTO (reference section 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError, validate
from marshmallow import fields as mf

from driver.wire.base import Long, Text, WireSchema, Wrapped

PRIMARY_DATASTORE = "org.apache.cloudstack.storage.to.PrimaryDataStoreTO"
VOLUME_OBJECT = "org.apache.cloudstack.storage.to.VolumeObjectTO"


@dataclass
class PrimaryDataStoreTO:
    uuid: str | None = None
    name: str | None = None
    id: int | None = None
    poolType: str | None = None
    host: str | None = None
    path: str | None = None
    port: int | None = None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PrimaryDataStoreSchema(WireSchema):
    __model__ = PrimaryDataStoreTO
    uuid = Text(allow_none=True)
    name = Text(allow_none=True)
    id = Long(allow_none=True)
    poolType = Text(allow_none=True)
    host = Text(allow_none=True)
    path = Text(allow_none=True)
    port = Long(allow_none=True)
    url = Text(allow_none=True)


@dataclass
class VolumeObjectTO:
    uuid: str | None = None
    volumeType: str | None = None
    dataStore: Any = None
    name: str | None = None
    size: int | None = None
    path: str | None = None
    volumeId: int | None = None
    id: int | None = None
    vmName: str | None = None
    format: str | None = None
    deviceId: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class VolumeObjectSchema(WireSchema):
    __model__ = VolumeObjectTO
    uuid = Text(allow_none=True)
    volumeType = Text(
        allow_none=True,
        validate=validate.OneOf(["UNKNOWN", "ROOT", "SWAP", "DATADISK", "ISO"]),
    )
    dataStore = Wrapped({PRIMARY_DATASTORE: PrimaryDataStoreSchema}, allow_none=True)
    name = Text(allow_none=True)
    size = Long(allow_none=True)
    path = Text(allow_none=True)
    volumeId = Long(allow_none=True)
    id = Long(allow_none=True)
    vmName = Text(allow_none=True)
    format = Text(allow_none=True)
    deviceId = Long(allow_none=True)


@dataclass
class VMSnapshotTO:
    id: int | None = None
    snapshotName: str | None = None
    type: str | None = None
    createTime: int | None = None
    current: bool | None = None
    description: str | None = None
    parent: VMSnapshotTO | None = None
    quiescevm: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def chain(self) -> list[VMSnapshotTO]:
        """This snapshot's ancestors, nearest first, as the nested ``parent`` fields give them."""
        out: list[VMSnapshotTO] = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out


class ParentChain(mf.Field):
    """The recursive ``parent`` of a VMSnapshotTO, walked iteratively so deep chains load,
    with one schema instance per direction (building a schema costs more than using it)."""

    _schemas: dict[str, WireSchema] = {}

    @classmethod
    def _schema(cls, kind: str) -> WireSchema:
        if kind not in cls._schemas:
            cls._schemas[kind] = VMSnapshotSchema(exclude=("parent",))
        return cls._schemas[kind]

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        levels: list[dict[str, Any]] = []
        node = value
        while node is not None:
            if not isinstance(node, dict):
                raise ValidationError("parent must be an object")
            levels.append(node)
            node = node.get("parent")
        linked: VMSnapshotTO | None = None
        for level in reversed(levels):
            loaded = self._schema("load").load({k: v for k, v in level.items() if k != "parent"})
            loaded.parent = linked
            linked = loaded
        return linked

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        chain: list[VMSnapshotTO] = []
        node = value
        while node is not None:
            chain.append(node)
            node = node.parent
        dumped: dict[str, Any] | None = None
        for level in reversed(chain):
            body = self._schema("dump").dump(level)
            if dumped is not None:
                body["parent"] = dumped
            dumped = body
        return dumped


class VMSnapshotSchema(WireSchema):
    __model__ = VMSnapshotTO
    id = Long(allow_none=True)
    snapshotName = Text(allow_none=True)
    type = Text(allow_none=True, validate=validate.OneOf(["Disk", "DiskAndMemory"]))
    createTime = Long(allow_none=True)
    current = mf.Boolean(allow_none=True)
    description = Text(allow_none=True)
    parent = ParentChain(allow_none=True)
    quiescevm = mf.Boolean(load_default=True)
