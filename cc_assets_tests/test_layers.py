"""The layers depend only downward: the API client is a standalone library.

`cc_assets.constant_contact` is what any script can use to talk to Constant Contact, so it must
not pull in the lake, the sandbox, the pipeline or Dagster. The test imports each of its modules
in a fresh interpreter and lists every module that import loaded.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import cc_assets.constant_contact as client_package

CLIENT_MODULES = sorted(
    f"{client_package.__name__}.{m.name}" for m in pkgutil.iter_modules(client_package.__path__)
)
FORBIDDEN = (
    "cc_assets.lake",
    "cc_assets.sandbox",
    "cc_assets.pipeline",
    "cc_assets.defs",
    "dagster",
)


def _loaded_by(module: str) -> list[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", CLIENT_MODULES)
def test_the_client_imports_nothing_above_it(module: str) -> None:
    loaded = _loaded_by(module)
    above = [m for m in loaded if m.split(".")[0] == "dagster" or m.startswith(FORBIDDEN)]
    assert not above, f"{module} loads {above[:5]}"


def test_the_client_package_has_modules() -> None:
    assert "cc_assets.constant_contact.client" in CLIENT_MODULES
    assert "cc_assets.constant_contact.schemas" in CLIENT_MODULES
