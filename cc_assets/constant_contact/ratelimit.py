"""One request budget for a whole deployment: requests per second and requests per UTC day.

Constant Contact counts calls per API key, not per process, so the limiter's state is shared:
in a small file under a lock for every process on one machine, or in Redis for several hosts.
Both use GCRA: each call reserves the next slot `interval` after the previous one, so calls are
spaced evenly (never a burst that a sliding one-second window on the server would refuse).
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from filelock import FileLock

from cc_assets.constant_contact.errors import QuotaExceededError

# Spacing 10% wider than the limit: a call that leaves up to 0.1 s after its slot (a process
# descheduled on a loaded host, a slow event loop on the server) still cannot make a sliding
# second on the server hold one call too many. At 4% a loaded CI host saw 13 of 229 calls
# refused; the 6% of throughput given up is never the binding limit (the daily quota is).
SAFETY = 1.10


def next_reset(now: datetime | None = None) -> datetime:
    """The daily quota resets at 00:00 UTC."""
    now = now or datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


class RequestBudget(Protocol):
    def acquire(self, endpoint: str) -> None:
        """Block until a call may go out; raise QuotaExceededError when today's budget is spent."""

    def used_today(self) -> int:
        """Calls counted against today's quota (UTC day) by every process sharing the budget."""


class FileBudget:
    """GCRA + daily count in a JSON file guarded by a file lock: shared by local processes."""

    def __init__(self, path: Path, requests_per_second: float, daily_quota: int) -> None:
        self.path = path
        self.interval = SAFETY / requests_per_second if requests_per_second > 0 else 0.0
        self.daily_quota = daily_quota
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(path) + ".lock")

    def _read(self) -> dict[str, object]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def used_today(self) -> int:
        state = self._read()
        today = datetime.now(UTC).date().isoformat()
        return int(state.get("used", 0)) if state.get("day") == today else 0

    def acquire(self, endpoint: str) -> None:
        if not self.interval and not self.daily_quota:
            return  # unlimited (a local benchmark): nothing to share
        with self._lock:
            state = self._read()
            now = time.time()
            today = datetime.fromtimestamp(now, UTC).date().isoformat()
            used = int(state.get("used", 0)) if state.get("day") == today else 0
            if self.daily_quota and used >= self.daily_quota:
                raise QuotaExceededError(
                    endpoint,
                    None,
                    f"the daily budget of {self.daily_quota} calls is spent",
                    next_reset(),
                )
            slot = max(float(state.get("tat", 0.0)), now)
            state = {"tat": slot + self.interval, "day": today, "used": used + 1}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path)
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local quota = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if quota > 0 and used >= quota then return -1 end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tostring(tat + tonumber(ARGV[1])), 'EX', 3600)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 172800)
return tostring(tat - now)
"""


class RedisBudget:
    """The same GCRA in Redis, atomic in one Lua script, on Redis's clock: shared by hosts."""

    def __init__(self, url: str, key: str, requests_per_second: float, daily_quota: int) -> None:
        import redis  # noqa: PLC0415 - only deployments that configure Redis need it

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_GCRA)
        self.key = key
        self.interval = SAFETY / requests_per_second if requests_per_second > 0 else 0.0
        self.daily_quota = daily_quota

    def used_today(self) -> int:
        day = datetime.now(UTC).date().isoformat()
        return int(self._redis.get(f"cc_assets:{self.key}:used:{day}") or 0)

    def acquire(self, endpoint: str) -> None:
        day = datetime.now(UTC).date().isoformat()
        keys = [f"cc_assets:{self.key}:tat", f"cc_assets:{self.key}:used:{day}"]
        delay = float(self._script(keys=keys, args=[self.interval, self.daily_quota]))
        if delay < 0:
            raise QuotaExceededError(
                endpoint,
                None,
                f"the daily budget of {self.daily_quota} calls is spent",
                next_reset(),
            )
        if delay > 0:
            time.sleep(delay)
