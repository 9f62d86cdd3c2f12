"""The PostgreSQL token store on a database it has never seen: many hosts (here threads with
their own connections) reach for it at once, so each creates the table at the same moment.
`CREATE TABLE IF NOT EXISTS` alone lets two of them pass the check and one fail on the
catalog's unique index; the store must make every one of them succeed."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest
import redis

from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.token_store import PostgresTokenStore, TokenPair, token_store

HOSTS = 8


@pytest.mark.services
def test_first_use_by_many_hosts_at_once_creates_the_table_once(pg_database: str) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    start = threading.Barrier(HOSTS)
    errors: list[BaseException] = []

    def host(index: int) -> None:
        store = PostgresTokenStore(url, key=f"host-{index}")
        start.wait()
        try:
            store.write(TokenPair(f"access-{index}", f"refresh-{index}"))
        except BaseException as error:  # every host's failure is reported, not only the first
            errors.append(error)

    threads = [threading.Thread(target=host, args=(i,)) for i in range(HOSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for index in range(HOSTS):
        pair = PostgresTokenStore(url, key=f"host-{index}").read()
        assert pair == TokenPair(f"access-{index}", f"refresh-{index}")


@pytest.mark.services
@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_accounts_of_one_app_rotate_in_entries_of_their_own(kind: str, pg_database: str) -> None:
    """Two accounts of one application in a store shared by hosts: each rotation is its own
    account's, and each account's rotation lock is its own (one held does not block the other)."""
    url = (
        "redis://127.0.0.1:6379/0"
        if kind == "redis"
        else f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    )
    app = ClientSettings(client_id=f"app-{uuid.uuid4().hex[:8]}", token_store_url=url)
    acme, globex = (replace(app, account=n, token_store_key=n) for n in ("acme", "globex"))
    stores = {name: token_store(s) for name, s in (("acme", acme), ("globex", globex))}
    try:
        with stores["acme"].rotation_lock():
            stores["acme"].write(TokenPair("access-acme", "refresh-acme"))
            with stores["globex"].rotation_lock():  # not blocked by acme's lock
                stores["globex"].write(TokenPair("access-globex", "refresh-globex"))
        assert token_store(acme).read() == TokenPair("access-acme", "refresh-acme")
        assert token_store(globex).read() == TokenPair("access-globex", "refresh-globex")
        assert token_store(app).read() is None
    finally:
        if kind == "redis":
            for store in stores.values():
                redis.Redis.from_url(url).delete(store.key)
