"""The use cases behind the agent commands, one module each, over a shared
:class:`~driver.usecases.context.Context` (hypervisor, records, journal, per-VM slots,
quiesce). Each takes a decoded command and returns an answer; it raises only the driver's
own errors, which the dispatcher (:mod:`driver.service`) turns into failed answers."""
