"""Everything one running sandbox holds: the account, its clock, caches and rules."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock

from cc_assets.sandbox.account import Account, AccountConfig, Activity
from cc_assets.sandbox.clock import SandboxClock
from cc_assets.sandbox.events import (
    DEFAULT_CACHE_BYTES,
    ActivityEvents,
    EventColumns,
    EventStore,
)
from cc_assets.sandbox.render import RowRenderer


@dataclass
class SandboxService:
    """The account plus its "now". Stats are computed as of the last refresh time."""

    config: AccountConfig
    clock_mode: str = "fixed"  # see clock.py
    event_cache_bytes: int = DEFAULT_CACHE_BYTES
    clock_start: datetime | None = None  # before the account's `now`: its past replayed
    shared_clock: SandboxClock | None = None  # the server's one clock, when it serves several
    account: Account = field(init=False)
    clock: SandboxClock = field(init=False)
    store: EventStore = field(init=False)
    renderer: RowRenderer = field(init=False)

    def __post_init__(self) -> None:
        self.account = Account(self.config)
        self.clock = self.shared_clock or SandboxClock(
            self.clock_start or self.config.now, mode=self.clock_mode
        )
        self.store = EventStore(self.account, self.event_cache_bytes)
        self.renderer = RowRenderer(self.account)
        self._reports: OrderedDict[tuple[str, str, int], EventColumns] = OrderedDict()
        self._lock = Lock()

    def events(self, activity: Activity) -> ActivityEvents:
        return self.store.get(activity)

    def report(self, activity: Activity, report: str) -> EventColumns:
        """A report as of now. Derived reports (unique opens, did-not-opens) cost a pass over
        the events, so the last few are kept while a client pages through them."""
        key = (activity.activity_id, report, self.clock.epoch())
        with self._lock:
            hit = self._reports.get(key)
        if hit is None:
            hit = self.events(activity).report(report, key[2])
            with self._lock:
                self._reports[key] = hit
                while len(self._reports) > 32:
                    self._reports.popitem(last=False)
        return hit

    def stats_time(self) -> int:
        """`last_refresh_time`: now, floored to the stats refresh interval."""
        now = self.clock.epoch()
        interval = self.config.stats_refresh_seconds
        return now - now % interval if interval > 0 else now

    @staticmethod
    def iso(epoch: int) -> str:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
