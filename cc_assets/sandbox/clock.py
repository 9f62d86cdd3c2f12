"""The sandbox's notion of "now", in one of three modes.

- `fixed`: stays at the start and moves only when advanced (tests).
- `live`: the start plus the wall time elapsed since the server started.
- `daily`: 00:00 UTC of the current real day (never before the start): the same all day, so
  the same commands give the same numbers, a daily snapshot holds the account as of the start
  of its own date, and no event is ever dated after the real time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from threading import Lock

CLOCK_MODES = ("fixed", "live", "daily")


class SandboxClock:
    """Starts at `start`; `advance` lets time pass so new events arrive (in every mode)."""

    def __init__(self, start: datetime, *, mode: str = "fixed") -> None:
        if mode not in CLOCK_MODES:
            raise ValueError(f"clock must be one of {', '.join(CLOCK_MODES)}")
        self.mode = mode
        self._start = start.astimezone(UTC).replace(microsecond=0)
        self._offset = 0.0
        self._origin = time.monotonic()
        self._lock = Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        if self.mode == "live":
            return self._start + timedelta(seconds=int(offset + time.monotonic() - self._origin))
        base = self._start
        if self.mode == "daily":
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            base = max(base, today)
        return base + timedelta(seconds=int(offset))

    def epoch(self) -> int:
        return int(self.now().timestamp())

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()
