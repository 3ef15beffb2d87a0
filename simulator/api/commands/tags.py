"""createTags, deleteTags, listTags (for VM snapshots, VMs, volumes and public addresses)."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.errors import ParamError
from simulator.models import TAGGABLE, Tag

RESOURCES = {name.lower(): (name, cls) for name, cls in TAGGABLE.items()}
TAG_TEXT_MAX = 255  # CloudStack's columns for a tag's key and value


def _resources(req: Request) -> list[tuple[str, Any]]:
    kind = (req.params.require("resourcetype")).lower()
    if kind not in RESOURCES:
        raise ParamError(f"Unable to find resource type {req.params.text('resourcetype')}")
    type_name, cls = RESOURCES[kind]
    ids = req.params.items("resourceids")
    if not ids:
        raise ParamError("Unable to execute API command due to missing parameter resourceids")
    return [(type_name, req.manager.lookup(cls, i, req.caller, req.api.name, "resourceids"))
            for i in dict.fromkeys(ids)]


@api("createTags", "Creates resource tag(s)", is_async=True, package="user.tag", params=[
    P("resourcetype", required=True), P("resourceids", "list", True), P("tags", "map", True)])
def create_tags(req: Request) -> dict[str, Any]:
    resources = _resources(req)
    tags = req.params.mapping("tags")
    if not tags or any("key" not in t for t in tags):
        raise ParamError("Unable to execute API command createtags due to missing parameter "
                         "tags")
    wanted: dict[str, str] = {}
    for t in tags:
        key, value = t["key"], t.get("value", "")
        if not key.strip():
            raise ParamError("Tag key cannot be empty")
        if len(key) > TAG_TEXT_MAX or len(value) > TAG_TEXT_MAX:
            raise ParamError(f"A tag's key and value are at most {TAG_TEXT_MAX} characters")
        if key in wanted:
            raise ParamError(f"tag {key} given twice")
        wanted[key] = value
    store = req.manager.store
    with req.manager.lock:
        existing = {(x.resource_type, x.resource_id, x.key) for x in store.find(Tag)}
        for type_name, obj in resources:
            for key in wanted:
                if (type_name, obj.id, key) in existing:
                    raise ParamError(f"tag {key} already on this resource")
        with store.tx():
            for type_name, obj in resources:
                for key, value in wanted.items():
                    store.add(Tag(key, value, type_name, obj.id, obj.account_id))
    job = req.submit(lambda: {"success": True})
    return {"jobid": job.uuid}


@api("deleteTags", "Deleting resource tag(s)", is_async=True, package="user.tag", params=[
    P("resourcetype", required=True), P("resourceids", "list", True), P("tags", "map")])
def delete_tags(req: Request) -> dict[str, Any]:
    resources = _resources(req)
    keys = {t.get("key") for t in req.params.mapping("tags")}
    store = req.manager.store
    for type_name, obj in resources:
        for tag in store.find(Tag):
            if tag.resource_type == type_name and tag.resource_id == obj.id and (
                    not keys or tag.key in keys):
                store.delete(tag)
    job = req.submit(lambda: {"success": True})
    return {"jobid": job.uuid}


@api("listTags", "List resource tag(s)", package="user.tag", response="tag", params=[
    P("resourcetype"), P("resourceid"), P("key"), P("value"), P("customer"),
    P("domainid", "uuid"), P("listall", "boolean"), P("account"), P("keyword"),
    P("page", "integer"), P("pagesize", "integer")])
def list_tags(req: Request) -> dict[str, Any]:
    p = req.params
    items = req.visible(req.manager.store.find(Tag))
    if rt := p.text("resourcetype"):
        items = [t for t in items if t.resource_type.lower() == rt.lower()]
    if resource := p.text("resourceid"):
        # The resource's uuid, whatever its type (CloudStack takes its uuid or its id).
        found = {name: req.manager.store.by_uuid(cls, resource)
                 for name, cls in TAGGABLE.items()}
        matches = {(name, obj.id) for name, obj in found.items() if obj is not None}
        items = [t for t in items if (t.resource_type, t.resource_id) in matches]
    if key := p.text("key"):
        items = [t for t in items if t.key == key]
    if value := p.text("value"):
        items = [t for t in items if t.value == value]
    if keyword := p.text("keyword"):
        k = keyword.lower()
        items = [t for t in items if k in t.key.lower() or k in t.value.lower()]
    return req.listing("tag", items, req.render.tag)
