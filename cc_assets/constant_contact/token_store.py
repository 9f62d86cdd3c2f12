"""Where the current OAuth token pair lives, and the lock that allows one rotation at a time.

A rotating refresh token can be spent once, so every process that may refresh (every run
worker, on every host) must read the latest pair from one place and rotate under one lock. The
store is chosen by `CC_ASSETS_TOKEN_STORE`:

- a file path (default: `tokens-<key>.json` in `CC_ASSETS_STATE_DIR`): one machine; written
  atomically (temp file, fsync, rename, mode 0600) under a file lock;
- `redis://...` / `rediss://...`: every host; the pair is one key, the lock a Redis lock with a
  timeout, so a host that dies holding it cannot block the others for long;
- `postgresql://...`: every host; the pair is a row committed before it is used, the lock a
  session advisory lock, released by PostgreSQL itself if the holder's connection drops.

`write` returns only once the pair is durable in the store: the caller uses a new access token
only after that, so a crash never loses the only valid refresh token.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from filelock import FileLock

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.settings import state_dir

ROTATION_LOCK_SECONDS = 120
"""Longest a rotation may hold the Redis lock (the token call retries for well under this)."""


@dataclass
class TokenPair:
    access_token: str | None
    refresh_token: str | None
    saved_at: float | None = field(default=None, compare=False)
    """When the store last wrote the pair (epoch seconds): the account's last token refresh."""


class TokenStore(Protocol):
    def read(self) -> TokenPair | None: ...

    def write(self, pair: TokenPair) -> None: ...

    def rotation_lock(self) -> AbstractContextManager[object]: ...


def _pair(data: dict[str, object]) -> TokenPair:
    access, refresh, saved = (data.get(k) for k in ("access_token", "refresh_token", "saved_at"))
    return TokenPair(
        access if isinstance(access, str) else None,
        refresh if isinstance(refresh, str) else None,
        float(saved) if isinstance(saved, int | float) else None,
    )


def _payload(pair: TokenPair) -> dict[str, object]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "saved_at": time.time(),
    }


def write_private(path: Path, data: dict[str, object]) -> None:
    """Atomically replace `path` with `data`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class FileTokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")

    def read(self) -> TokenPair | None:
        try:
            return _pair(json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def write(self, pair: TokenPair) -> None:
        write_private(self.path, _payload(pair))

    def rotation_lock(self) -> AbstractContextManager[object]:
        return self._lock


class RedisTokenStore:
    def __init__(self, url: str, key: str) -> None:
        import redis  # noqa: PLC0415 - only deployments that configure Redis need it

        self._redis = redis.Redis.from_url(url)
        self.key = f"cc_assets:tokens:{key}"

    def read(self) -> TokenPair | None:
        raw = self._redis.get(self.key)
        return None if raw is None else _pair(json.loads(raw))

    def write(self, pair: TokenPair) -> None:
        self._redis.set(self.key, json.dumps(_payload(pair)))

    def rotation_lock(self) -> AbstractContextManager[object]:
        return self._redis.lock(
            f"{self.key}:rotation",
            timeout=ROTATION_LOCK_SECONDS,
            blocking_timeout=2 * ROTATION_LOCK_SECONDS,
        )


class PostgresTokenStore:
    TABLE = "cc_assets_oauth_tokens"

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self._table_ready = False

    def _connect(self):
        import psycopg  # noqa: PLC0415 - only deployments that configure Postgres need it

        conn = psycopg.connect(self.url, autocommit=True)
        if not self._table_ready:
            # CREATE TABLE IF NOT EXISTS is not safe against itself: two hosts creating the
            # table at once can both pass the check and one fails on the catalog's unique
            # index. A transaction-scoped advisory lock makes the first creation the only one.
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [self.TABLE])
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.TABLE} (store_key text PRIMARY KEY, "
                    "access_token text, refresh_token text, saved_at double precision)"
                )
            self._table_ready = True
        return conn

    def read(self) -> TokenPair | None:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT access_token, refresh_token, saved_at FROM {self.TABLE} "
                "WHERE store_key = %s",
                [self.key],
            ).fetchone()
        return None if row is None else TokenPair(row[0], row[1], row[2])

    def write(self, pair: TokenPair) -> None:
        with self._connect() as conn:  # autocommit: durable when execute returns
            conn.execute(
                f"INSERT INTO {self.TABLE} VALUES (%s, %s, %s, %s) ON CONFLICT (store_key) DO "
                "UPDATE SET access_token = excluded.access_token, "
                "refresh_token = excluded.refresh_token, saved_at = excluded.saved_at",
                [self.key, pair.access_token, pair.refresh_token, time.time()],
            )

    @contextmanager
    def rotation_lock(self) -> Iterator[object]:
        with self._connect() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [self.key])
            try:
                yield conn
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [self.key])


def store_key(settings: ClientSettings) -> str:
    """One pair per token endpoint, client id and account: an account of the accounts file
    (`token_store_key`) has an entry of its own, so one account's rotation never overwrites
    another's. The single account of the `CONSTANT_CONTACT_*` variables keeps the key it has
    always had."""
    app = hashlib.sha256(f"{settings.token_url}|{settings.client_id}".encode()).hexdigest()[:16]
    account = settings.token_store_key
    return f"tokens-{app}" if account is None else f"tokens-{app}-{account}"


def token_store(settings: ClientSettings) -> TokenStore:
    """The store of this account's pair (`store_key`): in Redis or PostgreSQL when
    `CC_ASSETS_TOKEN_STORE` is such a URL, else a file (that path, or `<key>.json` in the
    state folder; a path given for several accounts holds the first's, so each account gets
    `<stem>-<account>.json` beside it)."""
    key = store_key(settings)
    url = settings.token_store_url
    if url is None:
        path = settings.token_store_path
        if path is not None and settings.token_store_key is not None:
            path = path.with_name(f"{path.stem}-{settings.token_store_key}{path.suffix}")
        return FileTokenStore(path or state_dir() / f"{key}.json")
    if url.startswith(("redis://", "rediss://")):
        return RedisTokenStore(url, key)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresTokenStore(url, key)
    raise ConfigurationError(
        "CC_ASSETS_TOKEN_STORE", "a file path, redis://host:6379/0 or postgresql://user@host/db"
    )
