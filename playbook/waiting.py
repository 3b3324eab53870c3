"""``wait_for``: the one polling loop of the playbook. Notebooks and modules call it instead of writing
``while True: ... sleep`` loops, so every wait has a timeout, a clear error, and the same pacing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from playbook.errors import PlaybookError

T = TypeVar("T")


class WaitTimeout(PlaybookError):
    """A condition did not come true in time."""


def wait_for(predicate: Callable[[], T], timeout_s: float, *, what: str = "the condition",
             interval_s: float = 0.05, max_interval_s: float = 0.5, growth: float = 1.5) -> T:
    """Call ``predicate`` until it returns a truthy value and return that value. Polls every
    ``interval_s`` seconds, growing by ``growth`` up to ``max_interval_s``. Raises ``WaitTimeout``
    naming ``what`` after ``timeout_s`` seconds (the predicate is always called at least once)."""
    deadline = time.monotonic() + timeout_s
    delay = interval_s
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(min(delay, left))
        delay = min(delay * growth, max_interval_s)
