"""A long stage is never silent: its heartbeat reports done / total, calls and the expected end
from a thread of its own, whatever the work is blocked on."""

from __future__ import annotations

import re
import threading

from cc_assets.progress import Heartbeat


def test_a_blocked_stage_still_reports_its_progress() -> None:
    lines: list[str] = []
    calls = 0
    release = threading.Event()
    with Heartbeat("tracking reports", 3, lines.append, lambda: calls, every=0.05) as beat:
        beat.advance()
        calls = 42
        release.wait(0.5)  # one long report read: no item finishes, the heartbeat goes on
        assert len(lines) >= 3, lines
        beat.advance(2)
    pattern = r"tracking reports: 1/3, 42 API calls, expected end \d\d:\d\d:\d\d UTC"
    assert any(re.fullmatch(pattern, line) for line in lines[:-1]), lines
    assert lines[-1] == "tracking reports: 3/3 done"


def test_before_the_first_item_it_says_how_long_so_far() -> None:
    lines: list[str] = []
    with Heartbeat("contact reports", 10, lines.append, every=0.05):
        threading.Event().wait(0.2)
    assert re.fullmatch(r"contact reports: 0/10, \d+ s so far", lines[0]), lines
