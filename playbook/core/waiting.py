"""``wait_for``: the one polling loop of the playbook. Notebooks and modules call it instead of writing
``while True: ... sleep`` loops, so every wait has a timeout, a clear error, and the same pacing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from playbook.core.errors import WaitTimeout

T = TypeVar("T")

__all__ = ["WaitTimeout", "wait_for"]


def wait_for(predicate: Callable[[], T], timeout_s: float, *, what: str = "the condition",
             interval_s: float = 0.05, max_interval_s: float = 0.5, growth: float = 1.5,
             next_interval_s: Callable[[], float] | None = None) -> T:
    """Call ``predicate`` until it returns a truthy value and return that value. Polls every
    ``interval_s`` seconds, growing by ``growth`` up to ``max_interval_s`` (or, when given, pauses for
    whatever ``next_interval_s()`` says each time). Raises ``WaitTimeout`` naming ``what`` after
    ``timeout_s`` seconds (the predicate is always called at least once)."""
    deadline = time.monotonic() + timeout_s
    delay = interval_s
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"timed out after {timeout_s:g} s waiting for {what}")
        if next_interval_s is not None:
            delay = next_interval_s()
        time.sleep(max(min(delay, left), 0.0))
        if next_interval_s is None:
            delay = min(delay * growth, max_interval_s)
