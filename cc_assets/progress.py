"""Progress of long work, on the terminal and in the run log.

`say` is a line on the CLI's terminal. `Heartbeat` reports a stage's progress (done / total,
API calls spent, expected end) every `HEARTBEAT_SECONDS` from a thread of its own, so a stage
blocked in one long report read (a million-send first read takes minutes at 4 calls a second)
is never silent for longer, wherever the work is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

HEARTBEAT_SECONDS = 10.0
"""Under the 15 s a user may wait for a sign of life, with room for a busy machine."""


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


class Heartbeat:
    """`with Heartbeat(label, total, log, calls) as beat:` ... `beat.advance()` per item done."""

    def __init__(
        self,
        label: str,
        total: int,
        log: Callable[[str], None],
        calls: Callable[[], int] | None = None,
        every: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.label, self.total, self.log, self.calls, self.every = label, total, log, calls, every
        self.done = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {label}", daemon=True)

    def advance(self, items: int = 1) -> None:
        self.done += items

    def line(self) -> str:
        """`label: done/total, N API calls, expected end HH:MM:SS` (the end once an item is
        done: the rate of the items so far); `label: N s so far` when there is nothing to
        count."""
        elapsed = time.monotonic() - self._started
        if not self.total:  # nothing to count: a sign of life
            return f"{self.label}: {elapsed:.0f} s so far"
        parts = [f"{self.label}: {self.done}/{self.total}"]
        if self.calls is not None:
            parts.append(f"{self.calls()} API calls")
        if 0 < self.done < self.total:
            left = elapsed / self.done * (self.total - self.done)
            end = datetime.now(UTC) + timedelta(seconds=left)
            parts.append(f"expected end {end:%H:%M:%S} UTC")
        else:
            parts.append(f"{elapsed:.0f} s so far")
        return ", ".join(parts)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self.log(self.line())

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        if kind is None and self.total:
            self.log(f"{self.label}: {self.done}/{self.total} done")


def account_prefix(account: str | None) -> str:
    """How a line names its account: `account acme: ` (nothing for the single account)."""
    return f"account {account}: " if account else ""
