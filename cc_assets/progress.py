"""Progress lines on the terminal: `[HH:MM:SS] message`, flushed at once."""

from datetime import UTC, datetime


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)
