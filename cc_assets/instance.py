"""The Dagster instance the project's commands use when DAGSTER_HOME is not set."""

from __future__ import annotations

import shutil
from pathlib import Path

from cc_assets.settings import export, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME, or `./.dagster_home` seeded with the project's dagster.yaml."""
    home = load_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    template = PROJECT_ROOT / "dagster.yaml"
    if template.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(template, home / "dagster.yaml")
    export({"DAGSTER_HOME": str(home)})
    return home
