"""Async jobs that really run in the background, persisted so a restart loses none."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from simulator.errors import ApiError
from simulator.models import AsyncJob
from simulator.orchestrator.inflight import InFlight
from simulator.store import Store

log = logging.getLogger(__name__)

INTERRUPTED = "The job was interrupted by a management server restart"


class Jobs:
    def __init__(self, store: Store, workers: int = 8) -> None:
        self.store = store
        self.inflight = InFlight(store)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._vm_locks: dict[int, threading.Lock] = {}
        # Called when a job's work is done, before its result is visible to a client: what
        # follows the records (the SSH gateway's listeners) catches up first.
        self.before_finish: list[Callable[[], None]] = []
        self._guard = threading.Lock()

    def vm_lock(self, vm_id: int) -> threading.Lock:
        """The lock a VM's jobs take in turn (held by whoever acts on the VM outside them)."""
        with self._guard:
            return self._vm_locks.setdefault(vm_id, threading.Lock())

    def submit(self, job: AsyncJob, work: Callable[[], dict[str, Any]],
               vm_id: int | None = None) -> AsyncJob:
        """Persist ``job`` and run ``work`` in the background; VM jobs run one at a time per
        VM, as CloudStack's VM work queue does."""
        self.store.add(job)
        self.executor.submit(self._run, job.id, work, vm_id)
        return job

    def _run(self, job_id: int, work: Callable[[], dict[str, Any]], vm_id: int | None) -> None:
        lock = self.vm_lock(vm_id) if vm_id is not None else None
        if lock is not None:
            lock.acquire()
        self.inflight.begin_job()
        try:
            try:
                outcome: tuple[int, int, dict[str, Any]] = (1, 0, work())
            except ApiError as exc:
                outcome = (2, exc.code, {"errorcode": exc.code, "errortext": exc.text})
            except Exception as exc:  # a bug: the job fails with the raw message, as CloudStack's
                log.exception("job %s failed", job_id)
                outcome = (2, 530, {"errorcode": 530, "errortext": str(exc)})
            for hook in self.before_finish:
                try:
                    hook()
                except Exception:  # the job's outcome stands whatever a follower does
                    log.exception("after job %s", job_id)
            # One commit: the job's result, and forgetting the agent commands it sent (the
            # records hold their outcome now).
            with self.store.tx():
                self._finish(job_id, *outcome)
                self.inflight.end_job()
        finally:
            self.inflight.end_job()  # if the commit above failed (a no-op after it)
            if lock is not None:
                lock.release()

    def _finish(self, job_id: int, status: int, code: int, result: dict[str, Any]) -> None:
        job = self.store.get(AsyncJob, job_id)
        if job is None:  # reset while running
            return
        job.status, job.result_code, job.result = status, code, result
        job.completed = time.time()
        self.store.save(job)

    def recover(self, result_of: Callable[[AsyncJob], dict[str, Any] | None] | None = None
                ) -> int:
        """End every job a restart interrupted: with the result ``result_of`` finds for it
        (its work was done after all: start-up recovery had the host's answer), else as
        failed. Return how many failed."""
        count = 0
        for job in self.store.find(AsyncJob, state=None):
            if job.status != 0:
                continue
            result = result_of(job) if result_of is not None else None
            if result is not None:
                self._finish(job.id, 1, 0, result)
            else:
                self._finish(job.id, 2, 530, {"errorcode": 530, "errortext": INTERRUPTED})
                count += 1
        return count

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job is pending (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(j.status == 0 for j in self.store.find(AsyncJob)):
                return True
            time.sleep(0.02)
        return False

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
