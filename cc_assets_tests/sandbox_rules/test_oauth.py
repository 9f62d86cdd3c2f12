"""The token endpoint and bearer checks over real HTTP."""

from __future__ import annotations

import httpx
import jwt
import pytest

from cc_assets.sandbox.oauth import TOKEN_PATH, TokenAuthority

INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "unknown, invalid, or expired refresh token",
}
UNAUTHORIZED = {"error_key": "unauthorized", "error_message": "Unauthorized"}
REDIRECT = "https://app.example/callback"


def authority_for(clock, **options) -> TokenAuthority:
    options.setdefault("token_requests_per_second", 0)  # the 1/s limit has its own test
    return TokenAuthority("client-1", "s3cret", clock=clock, **options)


def refresh(root: str, token: str, *, form: bool = False) -> httpx.Response:
    params = {"grant_type": "refresh_token", "refresh_token": token}
    if form:
        return httpx.post(root + TOKEN_PATH, data=params, auth=("client-1", "s3cret"))
    return httpx.post(root + TOKEN_PATH, params=params, auth=("client-1", "s3cret"))


def exchange(root: str, code: str, redirect_uri: str = REDIRECT) -> httpx.Response:
    params = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return httpx.post(root + TOKEN_PATH, params=params, auth=("client-1", "s3cret"))


def whoami(root: str, token: str) -> httpx.Response:
    return httpx.get(root + "/v3/whoami", headers={"Authorization": f"Bearer {token}"})


def test_authorization_code_grant_issues_a_jwt_set_and_is_single_use(serve, clock):
    authority = authority_for(clock)
    root = serve(authority).root
    code = authority.issue_authorization_code(REDIRECT)

    first = exchange(root, code)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86_400  # a TTL
    assert body["scope"].split() == [
        "campaign_data",
        "contact_data",
        "account_read",
        "offline_access",
    ]
    assert first.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86_400
    assert claims["iat"] == int(clock().timestamp())
    assert "campaign_data" in claims["scp"]
    assert whoami(root, body["access_token"]).json()["scopes"] == sorted(authority.scopes)

    again = exchange(root, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_authorization_code_lives_five_minutes_and_needs_its_redirect_uri(serve, clock):
    authority = authority_for(clock)
    root = serve(authority).root
    stale = authority.issue_authorization_code(REDIRECT)
    clock.advance(minutes=5)
    assert exchange(root, stale).json()["error"] == "invalid_grant"

    wrong_redirect = authority.issue_authorization_code(REDIRECT)
    assert exchange(root, wrong_redirect, "https://evil.example/").json()["error"] == (
        "invalid_grant"
    )
    missing = exchange(root, authority.issue_authorization_code(REDIRECT), "")
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"

    fresh = authority.issue_authorization_code(REDIRECT)
    clock.advance(minutes=4, seconds=59)
    assert exchange(root, fresh).status_code == 200


@pytest.mark.parametrize(
    "auth",
    [None, ("client-1", "wrong"), ("other", "s3cret")],
    ids=["missing", "bad-secret", "bad-client"],
)
def test_bad_client_credentials_are_invalid_client(serve, clock, auth):
    authority = authority_for(clock)
    root = serve(authority).root
    token = authority.issue()["refresh_token"]
    params = {"grant_type": "refresh_token", "refresh_token": token}
    response = httpx.post(root + TOKEN_PATH, params=params, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert refresh(root, token).status_code == 200  # the token was not spent by the refusal


def test_malformed_basic_header_is_invalid_client(serve, clock):
    root = serve(authority_for(clock)).root
    response = httpx.post(
        root + TOKEN_PATH,
        params={"grant_type": "refresh_token"},
        headers={"Authorization": "Basic !!"},
    )
    assert response.json()["error"] == "invalid_client"


def test_rotating_refresh_tokens_are_single_use_and_a_new_set_voids_all_old_ones(serve, clock):
    authority = authority_for(clock, rotating=True)
    root = serve(authority).root
    first = authority.issue_initial()
    r0 = first["refresh_token"]

    second = refresh(root, r0)
    assert second.status_code == 200
    r1 = second.json()["refresh_token"]
    assert r1 != r0

    reused = refresh(root, r0)
    assert reused.status_code == 400
    assert reused.json() == INVALID_GRANT

    # A set issued any other way (here: the authorization-code grant) also kills r1.
    assert exchange(root, str(first["authorization_code"]), REDIRECT).status_code == 200
    assert refresh(root, r1).json() == INVALID_GRANT


def test_long_lived_refresh_token_comes_back_unchanged(serve, clock):
    authority = authority_for(clock, rotating=False)
    root = serve(authority).root
    token = authority.issue()["refresh_token"]
    for _ in range(3):
        response = refresh(root, token, form=True)  # a form-encoded body works as well
        assert response.status_code == 200
        assert response.json()["refresh_token"] == token


def test_refresh_tokens_die_after_180_days_unless_a_long_lived_one_is_used(serve, clock):
    rotating = authority_for(clock)
    long_lived = authority_for(clock, rotating=False)
    root_rotating, root_long = serve(rotating).root, serve(long_lived).root
    unused = rotating.issue()["refresh_token"]
    kept = long_lived.issue()["refresh_token"]
    clock.advance(days=179)
    assert refresh(root_long, kept).status_code == 200  # use renews it
    clock.advance(days=2)
    assert refresh(root_rotating, unused).json() == INVALID_GRANT
    assert refresh(root_long, kept).status_code == 200


def test_revoked_refresh_tokens_are_invalid_grant(serve, clock):
    authority = authority_for(clock, rotating=False)
    root = serve(authority).root
    token = authority.issue()["refresh_token"]
    authority.revoke_refresh_tokens()
    assert refresh(root, token).json() == INVALID_GRANT


def test_unsupported_or_missing_grant_type(serve, clock):
    root = serve(authority_for(clock)).root
    password = httpx.post(
        root + TOKEN_PATH, data={"grant_type": "password"}, auth=("client-1", "s3cret")
    )
    assert password.status_code == 400
    assert password.json()["error"] == "unsupported_grant_type"
    nothing = httpx.post(root + TOKEN_PATH, auth=("client-1", "s3cret"))
    assert nothing.json()["error"] == "invalid_request"


def test_access_tokens_expire_with_the_clock_and_on_expire_all(serve, clock):
    authority = authority_for(clock, lifetime_seconds=3600)
    root = serve(authority).root
    tokens = authority.issue()
    access = str(tokens["access_token"])
    assert whoami(root, access).status_code == 200

    clock.advance(seconds=3599)
    assert whoami(root, access).status_code == 200
    clock.advance(seconds=1)
    expired = whoami(root, access)
    assert expired.status_code == 401
    assert expired.json() == UNAUTHORIZED  # an object, not an array

    renewed = refresh(root, str(tokens["refresh_token"])).json()
    assert whoami(root, renewed["access_token"]).status_code == 200
    authority.expire_all()
    assert whoami(root, renewed["access_token"]).json() == UNAUTHORIZED
    newest = refresh(root, renewed["refresh_token"]).json()["access_token"]
    assert whoami(root, newest).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic abc",
        "Bearer not.a.jwt",
        "Bearer " + jwt.encode({"scp": []}, "k" * 32),
    ],
    ids=["missing", "empty", "basic", "garbage", "foreign-key"],
)
def test_missing_or_malformed_bearer_is_401_object(serve, clock, header):
    root = serve(authority_for(clock)).root
    headers = {"Authorization": header} if header else {}
    response = httpx.get(root + "/v3/whoami", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_token_endpoint_takes_one_request_per_second(serve, clock):
    authority = authority_for(clock, rotating=False, token_requests_per_second=1)
    root = serve(authority).root
    token = str(authority.issue()["refresh_token"])
    answers = [refresh(root, token) for _ in range(4)]
    assert answers[0].status_code == 200
    refused = [a for a in answers if a.status_code == 429]
    assert refused  # four calls cannot all be a second apart without sleeping
    assert all(
        a.json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
        for a in refused
    )


def test_a_token_without_the_scope_is_403_array(serve, clock):
    authority = authority_for(clock, scopes=("contact_data", "offline_access"))
    root = serve(authority).root
    response = whoami(root, str(authority.issue()["access_token"]))
    assert response.status_code == 403
    body = response.json()
    assert isinstance(body, list)
    assert body[0]["error_key"] == "forbidden"
    assert "campaign_data" in body[0]["error_message"]


def test_no_refresh_token_without_offline_access(clock):
    authority = authority_for(clock, scopes=("campaign_data",))
    assert "refresh_token" not in authority.issue()
