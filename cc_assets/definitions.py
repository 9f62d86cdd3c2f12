"""The code location: every domain under ``cc_assets/defs`` contributes its own definitions.

Nothing is listed here by hand, so adding a domain never means editing this file.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
