"""Authorizing the app for one more account: OAuth2's authorization-code flow with PKCE.

`cc-assets accounts add NAME` sends the user's browser to Constant Contact's authorize page;
the owner of the account logs in and consents; CC redirects the browser to a listener of ours
with a one-time code, which we exchange for the account's token pair. Safe as OAuth requires:

- a random `state` (RFC 6749 §10.12) that the redirect must echo, so a forged redirect is
  refused;
- PKCE (RFC 7636, S256): the code is worth nothing without the verifier that never left this
  process;
- the listener binds 127.0.0.1 only, answers the redirect path once and closes; any other
  request is a 404 and does not end the wait;
- the pair goes straight into the token store (under the account's key): no token is printed,
  logged or returned to the terminal.

`offline_access` is asked for, or CC returns no refresh token. The redirect URI must be one of
the app's registered ones (`http://127.0.0.1:<port>/callback`, port 8910 by default): CC takes
only a registered redirect URI, exactly, so the port is a setting, never a random one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from cc_assets.constant_contact.errors import AuthenticationError, ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.token_store import TokenPair
from cc_assets.constant_contact.tokens import TokenManager

SCOPES = ("campaign_data", "contact_data", "account_read", "offline_access")
CALLBACK_PATH = "/callback"
DEFAULT_PORT = 8910
WAIT_SECONDS = 300.0
"""How long the listener waits for the browser: CC's authorization code lives 5 minutes."""
PAGE = b"<!doctype html><title>cc-assets</title><p>%s You can close this window.</p>"


class AuthorizationError(AuthenticationError):
    """The user or CC did not grant the app (denied, wrong state, no answer in time)."""

    def __init__(self, message: str) -> None:
        super().__init__("authorize", None, message)


class _Listener(HTTPServer):
    """One answer on the callback path, its query parameters delivered to `answers`; 404 for
    anything else."""

    def __init__(self, port: int) -> None:
        self.answers: queue.Queue[dict[str, str]] = queue.Queue(maxsize=1)
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Listener

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH or not self.server.answers.empty():
            self.send_error(404)
            return
        params = dict(parse_qsl(parts.query))
        granted = "code" in params and "error" not in params
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        message = b"cc-assets is authorized." if granted else b"The authorization failed."
        self.wfile.write(PAGE % message)
        self.server.answers.put(params)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request line carries the authorization code."""


def authorize_account(
    app: ClientSettings,
    name: str,
    open_page: Callable[[str], None],
    port: int = DEFAULT_PORT,
    wait_seconds: float = WAIT_SECONDS,
) -> ClientSettings:
    """Run the flow for account `name` and store its pair; the account's settings (its
    token store entry) to read it with. `open_page` shows the authorize URL to the user."""
    if not (app.client_id and app.client_secret):
        raise ConfigurationError(
            "CONSTANT_CONTACT_CLIENT_ID",
            "authorizing an account needs the application: set CONSTANT_CONTACT_CLIENT_ID and "
            "CONSTANT_CONTACT_CLIENT_SECRET",
        )
    account = replace(app, account=name, token_store_key=name, access_token=None)
    try:
        listener = _Listener(port)
    except OSError as error:
        raise ConfigurationError(
            "--port", f"cannot listen on 127.0.0.1:{port} ({error.strerror}); choose another"
        ) from None
    with listener:
        redirect_uri = f"http://127.0.0.1:{listener.server_address[1]}{CALLBACK_PATH}"
        state, verifier = generate_token(32), generate_token(64)
        url = prepare_grant_uri(
            app.authorize_url,
            app.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(SCOPES),
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        serving = threading.Thread(target=listener.serve_forever, daemon=True)
        serving.start()
        try:
            open_page(url)
            try:
                params = listener.answers.get(timeout=wait_seconds)
            except queue.Empty:
                raise AuthorizationError(
                    f"no answer from the browser within {wait_seconds:.0f} s; run the command "
                    "again and open the page it prints"
                ) from None
        finally:
            listener.shutdown()
    code = _granted_code(params, state)
    with httpx.Client(timeout=httpx.Timeout(app.read_timeout, connect=app.connect_timeout)) as http:
        manager = TokenManager(account, http)
        with manager.store.rotation_lock():
            body = manager.token_request(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                }
            )
            refresh = body.get("refresh_token")
            if not refresh:
                raise AuthorizationError(
                    "the token endpoint returned no refresh token: the app must be allowed "
                    "offline_access"
                )
            manager.store.write(TokenPair(body["access_token"], refresh))
    return account


def _granted_code(params: dict[str, str], state: str) -> str:
    """The code of a redirect that answers our request, or why there is none."""
    if params.get("state") != state:
        raise AuthorizationError(
            "the redirect did not carry this request's state: refused (it may be forged); "
            "run the command again"
        )
    if "error" in params:
        error = params["error"] if params["error"].isidentifier() else "error"
        raise AuthorizationError(f"Constant Contact did not grant the app ({error})")
    code = params.get("code", "")
    if not code:
        raise AuthorizationError("the redirect carried no authorization code")
    return code
