"""Records the simulator does not keep: events, usage records, ISOs and snapshot policies
(see ``api/unmodelled.py``)."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.api.unmodelled import NOTHING, OWNED, PAGED, check, date, nothing_to_list
from simulator.errors import ParamError

nothing_to_list(
    "listEvents", "Lists events (the simulator records none).", package="user.event",
    response="event", params=[
        P("id", "uuid", description="the ID of the event"),
        P("type", description="the type of the events, e.g. VM.CREATE"),
        P("level", description="INFO, WARN or ERROR"),
        P("startdate", "date", description="events from this date (yyyy-MM-dd, or with "
          "HH:mm:ss)"),
        P("enddate", "date", description="events up to this date"),
        P("duration", "integer", description="events that took longer, in seconds"),
        P("entrytime", "integer", description="with duration: events started this long ago"),
        P("startid", "uuid", description="the events that followed this one"),
        P("resourceid", description="the events of this resource", since="4.17.0"),
        P("resourcetype", description="the type of resourceid", since="4.17.0"),
        P("archived", "boolean", description="archived events", since="4.19.0"),
        P("state", description="the state of the events", since="4.21.0"),
        *OWNED, *PAGED])

nothing_to_list(
    "listIsos", "Lists ISO images (the simulator models none).", package="user.iso",
    response="iso", params=[
        P("id", "uuid", description="the ID of the ISO"),
        P("name", description="the name of the ISO"),
        P("isofilter", description="featured, self, selfexecutable, sharedexecutable, "
          "executable or community"),
        P("bootable", "boolean", description="only ISOs a VM can boot from"),
        P("ispublic", "boolean", description="only public ISOs"),
        P("isready", "boolean", description="only ISOs ready to use"),
        P("hypervisor", description="the hypervisor of the ISOs"),
        P("zoneid", "uuid", description="the zone of the ISOs"),
        P("showremoved", "boolean", description="removed ISOs too"),
        P("showunique", "boolean", description="each ISO once, whatever its zones",
          since="4.13.2"),
        P("showicon", "boolean", description="with their icons"),
        P("arch", description="the CPU architecture", since="4.20"),
        P("oscategoryid", "uuid", description="the OS category of the ISOs",
          since="4.21.0"),
        P("tags", "map", description="only ISOs with these tags"), *OWNED, *PAGED])

nothing_to_list(
    "listSnapshotPolicies", "Lists the recurring snapshot policies of volumes (the simulator "
    "keeps none).", package="user.snapshot", response="snapshotpolicy", params=[
        P("volumeid", "uuid", description="the volume of the policies"),
        P("id", "uuid", description="the ID of the policy"),
        P("fordisplay", "boolean", description="only policies shown to the end user",
          since="4.4"), *OWNED, *PAGED])


@api("listUsageRecords", "Lists the usage records of accounts (the simulator keeps none).",
     admin=True, package="admin.usage", response="usagerecord", params=[
         P("startdate", "date", True, "the start of the period (yyyy-MM-dd, or with "
           "HH:mm:ss)"),
         P("enddate", "date", True, "the end of the period"),
         P("account", description="the account of the records"),
         P("accountid", "uuid", description="the ID of the account of the records"),
         P("domainid", "uuid", description="the domain of the records"),
         P("projectid", "uuid", description="the project of the records"),
         P("type", "long", description="the usage type of the records"),
         P("usageid", description="the resource of the records"),
         P("includetags", "boolean", description="with the tags of the resources"),
         P("oldformat", "boolean", description="dates in the old format"),
         P("isrecursive", "boolean", description="with domainid: its subdomains' too",
           since="4.15"), *PAGED])
def list_usage_records(req: Request) -> dict[str, Any]:
    check(req)
    start, end = date(req, "startdate"), date(req, "enddate")
    if start is not None and end is not None and start > end:
        raise ParamError(f"Incorrect Date Range. Start date: {start} is after end date:{end}")
    return req.listing("usagerecord", [], dict)


NOTHING.add("listUsageRecords")
