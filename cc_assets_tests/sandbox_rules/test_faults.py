"""Each injected fault as an httpx client meets it, over real HTTP through uvicorn."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from starlette.middleware import Middleware

from cc_assets.sandbox.faults import FaultInjector
from cc_assets.sandbox.limits import RequestLimits
from cc_assets.sandbox.oauth import TOKEN_PATH, TokenAuthority

from .conftest import PAYLOAD

SERVER_ERROR = [
    {"error_key": "server.error", "error_message": "There was a problem with our internal service."}
]


def faulty(serve, **faults):
    """The tiny app behind FaultInjector: (root URL, live FaultInjector)."""
    served = serve(
        TokenAuthority("c", "s", token_requests_per_second=0),
        [Middleware(FaultInjector, seed=7, **faults)],
    )
    return served.root, served.instance(FaultInjector)


def test_5xx_faults_are_500_or_503_with_cc_array_bodies(serve):
    root, _ = faulty(serve, p_5xx=1)
    with httpx.Client(base_url=root) as client:
        answers = [client.get("/v3/payload") for _ in range(24)]
    assert {a.status_code for a in answers} == {500, 503}
    for answer in answers:
        body = answer.json()
        assert isinstance(body, list)
        if answer.status_code == 500:
            assert body == SERVER_ERROR
        else:
            assert body[0]["error_message"] == "Our internal service is temporarily unavailable."


def test_429_fault_is_the_throttled_object(serve):
    root, _ = faulty(serve, p_429=1)
    answer = httpx.get(root + "/v2/payload")
    assert answer.status_code == 429
    assert answer.json() == {"error_key": "throttled", "error_message": "Too Many Requests"}


def test_dropped_connection_is_a_protocol_error_and_the_server_lives_on(serve):
    root, injector = faulty(serve, p_drop=1)
    with httpx.Client(base_url=root) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/v3/payload")
        injector.configure(p_drop=0)
        assert client.get("/v3/payload").json() == PAYLOAD


def test_dropped_connection_is_an_error_when_streaming_too(serve):
    root, _ = faulty(serve, p_drop=1)
    with (
        httpx.Client(base_url=root) as client,
        client.stream("GET", "/v3/payload") as response,
    ):
        assert response.status_code == 200  # the headers arrived...
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()  # ...the body never completes


def test_truncated_body_is_complete_http_but_invalid_json(serve):
    root, _ = faulty(serve, p_truncate=1)
    answer = httpx.get(root + "/v3/payload")
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content) > 0
    assert len(answer.content) < len(orjson.dumps(PAYLOAD))
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer.content)


def test_latency_delays_api_requests(serve):
    root, _ = faulty(serve, latency_ms=300)
    started = time.perf_counter()
    assert httpx.get(root + "/v3/payload").status_code == 200
    assert time.perf_counter() - started >= 0.29  # a lower bound only: sleep never ends early


def test_control_api_and_token_endpoint_are_never_faulted(serve):
    root, injector = faulty(serve, p_5xx=1)
    assert httpx.get(root + "/__sandbox__/payload").status_code == 200
    token = httpx.post(root + TOKEN_PATH, params={"grant_type": "password"}, auth=("c", "s"))
    assert token.status_code == 400
    assert injector.settings()["p_5xx"] == 1


def test_settings_change_at_run_time_and_are_validated(serve):
    root, injector = faulty(serve)
    assert httpx.get(root + "/v3/payload").status_code == 200
    assert injector.configure(p_429=1, latency_ms=0) == {
        "p_5xx": 0.0,
        "p_429": 1.0,
        "p_drop": 0.0,
        "p_truncate": 0.0,
        "latency_ms": 0.0,
    }
    assert httpx.get(root + "/v3/payload").status_code == 429
    with pytest.raises(ValueError, match="sum"):
        injector.configure(p_5xx=0.5)
    with pytest.raises(TypeError):
        injector.configure(p_teapot=1)
    assert injector.settings()["p_429"] == 1  # a refused change leaves the settings alone


def test_faulted_requests_still_count_against_the_rate(serve):
    """Limits outermost, faults inside: what the real API would charge, we charge."""
    served = serve(
        TokenAuthority("c", "s", token_requests_per_second=0),
        [
            Middleware(RequestLimits, requests_per_second=2, daily_quota=0),
            Middleware(FaultInjector, p_5xx=1, seed=1),
        ],
    )
    statuses: list[int] = []
    with httpx.Client(base_url=served.root) as client:
        while 429 not in statuses and len(statuses) < 1_000:  # however slow the machine is
            statuses.append(client.get("/v3/payload").status_code)
    assert statuses[0] in {500, 503}
    assert set(statuses) <= {500, 503, 429} and 429 in statuses  # faulted calls were charged
    seen = served.instance(RequestLimits).snapshot()
    assert seen["throttled"] == statuses.count(429)
    assert seen["max_in_any_second"] <= 2


def test_path_faults_answer_their_status_for_good_on_matching_paths_only(serve):
    root, injector = faulty(serve)
    injector.configure_paths({"^/v3/payload$": 404, "^/v2/": 500})
    with httpx.Client(base_url=root) as client:
        for _ in range(3):  # persistent, not drawn
            missing = client.get("/v3/payload")
            assert missing.status_code == 404
            assert missing.json()[0]["error_key"] == "resource.not_found"
            broken = client.get("/v2/payload")
            assert broken.status_code == 500 and broken.json() == SERVER_ERROR
        injector.configure_paths({})
        assert client.get("/v3/payload").json() == PAYLOAD


def test_bad_path_faults_are_refused_and_change_nothing(serve):
    _, injector = faulty(serve)
    injector.configure_paths({"^/v3/payload$": 503})
    for bad in ({"(": 404}, {"^/v3/": 200}, {"^/v3/": "many"}):
        with pytest.raises(ValueError):
            injector.configure_paths(bad)
    assert injector.path_faults() == {"^/v3/payload$": 503}
