"""One way to wait: poll a condition until it holds or a deadline passes. Every wait in the
suites goes through it, so none can spin forever or sleep a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 30.0, *, interval: float = 0.05,
               message: str = "the condition", ignore: tuple[type[BaseException], ...] = ()
               ) -> T:
    """Call ``condition`` until it returns a true value, and return that value.

    Exceptions of the types in ``ignore`` count as "not yet". Raises :class:`TimeoutError`
    naming ``message`` once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except ignore:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} did not happen within {timeout} s")
        time.sleep(interval)
