"""The sandbox's notion of "now": fixed and advanced on demand, or following the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from threading import Lock


class SandboxClock:
    """Starts at `start`; `advance` lets time pass so new events arrive; `live` adds wall time."""

    def __init__(self, start: datetime, *, live: bool = False) -> None:
        self._start = start.astimezone(UTC).replace(microsecond=0)
        self._offset = 0.0
        self._live = live
        self._origin = time.monotonic()
        self._lock = Lock()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._origin if self._live else 0.0
        with self._lock:
            moment = self._start + timedelta(seconds=int(self._offset + elapsed))
        return moment

    def epoch(self) -> int:
        return int(self.now().timestamp())

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()
