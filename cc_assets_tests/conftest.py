"""Suite-wide pytest wiring: markers for tests that need local services or a browser.

`services` and `browser` tests skip with a reason when what they need is absent, but only
outside CI: with CI=true a missing service or browser is a failure, never a silent skip.
"""

from __future__ import annotations

import gc
import os
import shutil
import socket
from collections.abc import Iterator

import pytest
from _pytest.nodeid import NodeId
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext
from dagster._core.storage.defs_state.base import set_defs_state_storage

pytest_plugins = [
    "cc_assets_tests.fixtures.sandbox",
    "cc_assets_tests.fixtures.pipeline",
    "cc_assets_tests.fixtures.object_store",
    "cc_assets_tests.fixtures.services",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = "/usr/bin/chromium"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _missing(marker: str) -> str | None:
    if marker == "services":
        absent = [
            name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _port_open(port)
        ]
        return f"{' and '.join(absent)} not listening on 127.0.0.1" if absent else None
    if marker == "browser" and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(autouse=True)
def _fresh_definitions_load_context() -> Iterator[None]:
    """Each test loads definitions from scratch. Dagster keeps the last load context and the
    defs-state storage of the last instance entered (holding a weak reference to it) in
    process-wide state; a later test would otherwise find them pointing at an instance that an
    earlier test already discarded. An instance or resource context a test left open (one in
    a reference cycle, say through a caught exception's traceback) restores that state when
    the garbage collector finalizes it, which may be in the middle of a later test: collect
    it here, inside this test's scope, whose exit then puts everything back."""
    with DefinitionsLoadContext.scoped(None), set_defs_state_storage(None):
        yield
        gc.collect()


SHARED_BUILDS = {
    "refreshed",
    "demo_runs",
    "sdk_landed",
    "reruns",
    "landed",
    "accounts_landed",
    "accounts_lake",
    "lagging_lake",
}
"""Module-scoped fixtures that each build something costly (a whole refresh, two demos, a
landed lake) for several tests to read: their tests count as `slow`, and under pytest-xdist
the tests of a module that read them go to one worker, which builds them once."""


def _shared(item: pytest.Item) -> bool:
    return bool(SHARED_BUILDS.intersection(getattr(item, "fixturenames", ())))


def _slow(item: pytest.Item) -> bool:
    return _shared(item) or item.get_closest_marker("slow") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The `slow` tests (whole pipelines, minutes each on a busy machine) and the readers of a
    costly shared build go first, so that pytest-xdist, which hands tests out in this order,
    never ends the suite with a worker idle while another starts a long one.

    With `--dist loadgroup` (`make test`) the tests of a module that read its shared builds
    (which may build on one another) are one group, which xdist hands to a single worker: with
    plain `load` each worker that drew one of them built the whole lake again. xdist names a
    group by suffixing the test id with `@group` through `item._nodeid`, which pytest 9 no
    longer reads (its id is `item._id`): it is set here instead."""
    items.sort(key=lambda item: not _slow(item))
    if not config.getoption("loadgroup", False):
        return
    for item in items:
        if _shared(item):
            item._id = NodeId.parse(f"{item.nodeid}@{item.module.__name__}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("services", "browser"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason is None:
            continue
        if IN_CI:
            pytest.fail(f"CI=true and a `{marker}` test cannot run: {reason}")
        pytest.skip(reason)
