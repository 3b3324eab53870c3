"""The platform's calendar clock: wall-clock time plus an offset that tests (and rehearsals) can advance.

Why: RunPod's idle scale-down acts after 3 and 7 days without requests (docs/runpod-facts.md §7); a test
cannot wait that long, so the rules that count days read this clock, and ``advance(seconds)`` moves it on.
Timeouts of seconds (idle timeout, execution timeout) keep the monotonic clock: advancing the calendar
must not time out a running job.
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self, offset_s: float = 0.0) -> None:
        self._offset_s = float(offset_s)
        self._lock = threading.Lock()

    @property
    def offset_s(self) -> float:
        return self._offset_s

    def time(self) -> float:
        """Epoch seconds on the platform's calendar."""
        return time.time() + self._offset_s

    def advance(self, seconds: float) -> float:
        """Move the calendar on by ``seconds`` (>= 0); returns the new offset."""
        if seconds < 0:
            raise ValueError("the clock only moves forward: seconds must be >= 0")
        with self._lock:
            self._offset_s += seconds
            return self._offset_s
