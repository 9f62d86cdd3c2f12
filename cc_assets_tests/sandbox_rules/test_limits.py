"""The request limits over real HTTP: N/s across connections, the UTC-day quota."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
from starlette.middleware import Middleware

from cc_assets.sandbox.limits import RequestLimits, max_in_window
from cc_assets.sandbox.oauth import TOKEN_PATH, TokenAuthority

THROTTLED = {"error_key": "throttled", "error_message": "Too Many Requests"}
QUOTA_EXCEEDED = {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}


def limited(serve, **limits):
    """The tiny app behind RequestLimits: (root URL, live RequestLimits)."""
    served = serve(
        TokenAuthority("c", "s", token_requests_per_second=0),
        [Middleware(RequestLimits, **limits)],
    )
    return served.root, served.instance(RequestLimits)


def test_max_in_window_follows_the_admission_rule():
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert max_in_window([0.0, 1.0, 2.0]) == 1


def test_eight_concurrent_clients_never_get_more_than_n_per_second(serve):
    root, limits = limited(serve, requests_per_second=4, daily_quota=0)
    target = 10  # accepted requests: spans at least three 1-second windows
    accepted, refused, lock = [], [], threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=root) as client:
            while len(accepted) < target or not refused:  # however slow the machine is
                response = client.get("/v3/payload")
                with lock:
                    (accepted if response.status_code == 200 else refused).append(response)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert refused, "eight clients hammering must be throttled"
    assert {r.status_code for r in refused} == {429}
    assert all(r.json() == THROTTLED for r in refused)
    assert all("retry-after" not in r.headers for r in refused)  # none documented

    seen = limits.snapshot()
    assert seen["max_in_any_second"] == 4  # saturated, never exceeded
    assert seen["by_status"] == {"200": len(accepted), "429": len(refused)}
    assert seen["throttled"] == len(refused)
    assert seen["total"] == len(accepted) + len(refused) == len(seen["log"])
    # Recompute from the log: the accepted requests, in any sliding second, are at most 4.
    ok_times = sorted(t for t, path, status in seen["log"] if status == 200)
    assert all(path == "/v3/payload" for _, path, _ in seen["log"])
    assert max_in_window(ok_times) == 4

    # The control API and the token endpoint are never limited, even now.
    assert httpx.get(root + "/__sandbox__/payload").status_code == 200
    token = httpx.post(root + TOKEN_PATH, params={"grant_type": "password"}, auth=("c", "s"))
    assert token.json()["error"] == "unsupported_grant_type"
    assert limits.snapshot()["total"] == seen["total"]


def test_v2_over_the_rate_is_a_403_mashery_error(serve):
    root, _ = limited(serve, requests_per_second=1, daily_quota=0)
    answers = [httpx.get(root + "/v2/payload") for _ in range(3)]
    assert answers[0].status_code == 200
    refused = [a for a in answers if a.status_code != 200]
    assert refused  # three calls cannot all be a second apart without sleeping
    for answer in refused:
        assert answer.status_code == 403
        assert answer.json()[0]["error_key"] == "mashery.not.authorized.over.qps"


def test_daily_quota_resets_at_utc_midnight(serve, clock):
    clock.moment = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    root, limits = limited(serve, requests_per_second=0, daily_quota=3, clock=clock)
    assert [httpx.get(root + "/v3/payload").status_code for _ in range(3)] == [200] * 3
    over = httpx.get(root + "/v3/payload")
    assert over.status_code == 429
    assert over.json() == QUOTA_EXCEEDED
    v2 = httpx.get(root + "/v2/payload")
    assert v2.status_code == 403
    assert v2.json()[0]["error_key"] == "mashery.not.authorized.over.ratelimit"

    clock.advance(seconds=1)  # 23:59:59, still the same UTC day
    assert httpx.get(root + "/v3/payload").json() == QUOTA_EXCEEDED
    clock.advance(seconds=1)  # 00:00:00 UTC
    assert httpx.get(root + "/v3/payload").status_code == 200
    assert limits.snapshot()["quota_exceeded"] == 3


def test_quota_setters_and_reset(serve):
    root, limits = limited(serve, requests_per_second=0, daily_quota=1)
    assert httpx.get(root + "/v3/payload").status_code == 200
    assert httpx.get(root + "/v3/payload").json() == QUOTA_EXCEEDED
    limits.reset_quota()
    assert httpx.get(root + "/v3/payload").status_code == 200
    assert limits.configure(daily_quota=0) == {"requests_per_second": 0, "daily_quota": 0}
    assert httpx.get(root + "/v3/payload").status_code == 200
    assert limits.snapshot()["used_today"] == 2

    limits.reset()
    seen = limits.snapshot()
    assert (seen["total"], seen["log"], seen["by_status"]) == (0, [], {})


def test_throttled_requests_spend_the_daily_quota(serve):
    root, limits = limited(serve, requests_per_second=1, daily_quota=3)
    answers = [httpx.get(root + "/v3/payload").json() for _ in range(4)]
    seen = limits.snapshot()
    # However the calls fell into seconds, each one until the third spent a unit: the fourth is
    # over the quota even if some were refused as throttled.
    assert answers[3] == QUOTA_EXCEEDED
    assert seen["used_today"] == 3
    assert seen["throttled"] + seen["by_status"].get("200", 0) == 3
