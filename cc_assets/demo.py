"""`make demo`: the main job on the embedded default.

It grows with the project: for now it checks that the code location loads and says what exists.
"""

from __future__ import annotations

import sys

from cc_assets.definitions import defs


def main() -> int:
    loaded = defs()
    assets = list(loaded.assets or [])
    print("cc_assets: the code location loads.")
    print(f"  assets defined so far: {len(assets)}")
    print("  the sandbox, the client, the raw snapshots, the metrics and dbt are being built;")
    print("  see the open issues. `make test` runs the suite, `make ui` opens the Dagster UI.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
