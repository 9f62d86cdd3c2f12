"""`make ui`: the Dagster UI on this project, against the sandbox when no credentials are set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.instance import PROJECT_ROOT, ensure_dagster_home


def main() -> int:
    os.chdir(PROJECT_ROOT)
    home = ensure_dagster_home()
    if not ClientSettings.from_env().has_credentials:
        from cc_assets.sandbox.process import ensure_local_sandbox  # noqa: PLC0415

        try:
            info = ensure_local_sandbox()
        except ConfigurationError as error:  # another account holds the port: one line
            print(f"make ui: {error}", file=sys.stderr)
            return 2
        print(
            "No Constant Contact credentials: using the built-in sandbox account "
            f"{info['fingerprint']} at {info['base_url']}"
        )
    print(f"Dagster instance: {home}")
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-w", "workspace.yaml", *sys.argv[1:]])
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
