"""The gunicorn worker both services run: gunicorn supervises one worker process (a worker
that dies is replaced, and the new one recovers before it serves); inside it, waitress does
the HTTP.

Why waitress inside gunicorn: gunicorn's threaded worker gives a thread to a connection as
soon as its first bytes arrive and then blocks reading the rest, so a few clients that
dribble half a request (slowloris) hold every thread. Waitress reads each request whole,
headers and body, on its I/O loop before any thread runs the application, so an unfinished
request costs a buffer, never a thread; idle connections are closed after a timeout, and
the number of connections is bounded. In production a front such as nginx with
``client_header_timeout``/``client_body_timeout`` adds per-request read deadlines (see the
reliability page of the documentation).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import waitress
from gunicorn.workers.base import Worker

WORKER = "driver.worker.WaitressWorker"
MAX_HEADER_BYTES = 64 * 1024  # request line and headers together
IDLE_TIMEOUT = 120  # seconds an idle (or silent) connection is kept
MAX_CONNECTIONS = 1000


class WaitressWorker(Worker):  # type: ignore[misc]
    """A gunicorn worker that serves its application with waitress on the inherited sockets."""

    def run(self) -> None:
        server = waitress.create_server(
            self.wsgi, sockets=[s.sock for s in self.sockets], threads=self.cfg.threads,
            channel_timeout=IDLE_TIMEOUT, connection_limit=MAX_CONNECTIONS,
            max_request_header_size=MAX_HEADER_BYTES,
            # Bodies past twice the app's own limit are refused before they are buffered;
            # below that the application answers 413 in its own error shape.
            max_request_body_size=2 * int(self.wsgi.config.get("MAX_CONTENT_LENGTH")
                                          or 4 << 20),
            # A request is a whole unit of work: one client waits for one answer at a time.
            channel_request_lookahead=0, ident="vmsnap", expose_tracebacks=False,
            # poll(), not select(): select() cannot watch a descriptor numbered past 1023,
            # and a thousand open connections beside the worker's own files get there.
            asyncore_use_poll=True)
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        server.run()  # until SystemExit (raised by the signal handlers below)

    def _heartbeat(self) -> None:
        """Tell the arbiter this worker lives; end the worker if the arbiter is gone."""
        interval = max(self.timeout / 4, 0.5)
        while self.alive:
            if self.ppid != os.getppid():
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self.notify()
            threading.Event().wait(interval)

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop serving now (waitress finishes its threads' requests first)."""
        self.alive = False
        sys.exit(0)
