"""Two hosts, one API key: two `cc-assets refresh` processes, each with its own state folder,
lake and Dagster home, sharing only Redis (the request budget) and a token store in Redis or
PostgreSQL. The sandbox rotates refresh tokens (a spent one answers invalid_grant) and every
token is expired at the start, so both hosts need a rotation at once: only one may spend the
refresh token, the other must adopt the stored result. Together they stay within the key's
4 requests/second, and each lands exactly the ground truth."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis

from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.token_store import RedisTokenStore, token_store
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.client.test_auth_and_limits import assert_key_rate_kept
from cc_assets_tests.ingestion.test_refresh_cli import (
    CLI,
    assert_tracking_equals_truth,
    environment,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_two_hosts_share_budget_and_token_rotation(
    sandbox_factory, pg_database: str, tmp_path: Path, store: str
) -> None:
    server: SandboxServer = sandbox_factory(
        seed=5, contacts=150, campaigns=3, requests_per_second=4, refresh_tokens="rotating"
    )
    store_url = (
        REDIS_URL if store == "redis" else f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    )
    server.expire_tokens()  # both hosts start with a dead access token: both want a rotation
    hosts = []
    shared = token_store(
        ClientSettings.from_env({**server.client_env(), "CC_ASSETS_TOKEN_STORE": store_url})
    )
    for name in ("host-a", "host-b"):
        home = tmp_path / name
        home.mkdir()
        env = environment(
            server,
            home,
            CONSTANT_CONTACT_REQUESTS_PER_SECOND="4",
            CC_ASSETS_RATE_LIMIT_URL=REDIS_URL,
            CC_ASSETS_TOKEN_STORE=store_url,
        )
        process = subprocess.Popen(
            [CLI, "refresh", "--contact-calls", "0"],  # no contact report is compared
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        hosts.append((home, process))
    try:
        for home, process in hosts:
            stdout, stderr = process.communicate(timeout=900)
            assert process.returncode == 0, stderr[-3000:]
            assert "invalid_grant" not in stdout + stderr
            assert_tracking_equals_truth(home / "lake", server)
            assert not list((home / "state").glob("tokens-*")), "the shared store was used"
        assert_key_rate_kept(server, rate=4)
        rotated = shared.read()
        assert rotated is not None and rotated.refresh_token not in {None, server.refresh_token}
    finally:
        for _, process in hosts:
            if process.poll() is None:
                process.kill()
        if isinstance(shared, RedisTokenStore):  # Postgres: the database is dropped
            redis.Redis.from_url(REDIS_URL).delete(shared.key)
