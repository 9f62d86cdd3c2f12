"""The PostgreSQL token store on a database it has never seen: many hosts (here threads with
their own connections) reach for it at once, so each creates the table at the same moment.
`CREATE TABLE IF NOT EXISTS` alone lets two of them pass the check and one fail on the
catalog's unique index; the store must make every one of them succeed."""

from __future__ import annotations

import threading

import pytest

from cc_assets.constant_contact.token_store import PostgresTokenStore, TokenPair

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
