"""The dbt project (`dbt_project/`), its manifest, and how dbt is invoked.

Importing this module does no work: the manifest (`dbt_project/target/manifest.json`) is
prepared once by an explicit step, `python -m cc_assets.defs.analytics.project` (what `make`
runs before `demo`, `test` and `ui` whenever a file of the dbt project changed, and what a
fresh clone or a deployment image runs once), and is then read as is. Under `dagster dev`
it is re-parsed on a code load when a file of the dbt project is newer than it, as
`DbtProject.prepare_if_dev` intends (edits show at once) without parsing an unchanged
project on every start.

dbt resolves relative paths against its own working directory, so the lake and warehouse paths
(`CC_ASSETS_STORAGE`, `CC_ASSETS_WAREHOUSE`) are made absolute before dbt is called.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from upath import UPath

from cc_assets.lake.paths import lake_root, location, per_account_lake
from cc_assets.settings import export, load_settings, state_dir

PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


LAKE_ACCOUNTS = "CC_ASSETS_LAKE_ACCOUNTS"
"""`1` when the lake holds one lake per account (`{root}/account=<name>/...`: the settings name
an accounts file), else empty (the one account's lake at the root): what dbt's sources read
(`macros/cc_accounts.sql`)."""


def apply_dbt_environment(lake: UPath | None = None) -> dict[str, str]:
    """Export the absolute lake root (`lake`, else the settings'), its layout (one account's
    lake, or one per account: `LAKE_ACCOUNTS`) and the warehouse file to this process (dbt runs
    as its child, and its profiles and sources read them) and create the warehouse's folder.
    Returns what was set."""
    settings = load_settings()
    warehouse = settings.warehouse
    environment = {
        "CC_ASSETS_STORAGE": location(lake or lake_root()),
        "CC_ASSETS_WAREHOUSE": str(warehouse),
        LAKE_ACCOUNTS: "1" if per_account_lake(settings) else "",
    }
    export(environment)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return environment


def dbt_cli(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(
        project_dir=project,
        profiles_dir=str(PROJECT_DIR),
        target=load_settings().dbt_target,
        dbt_executable=DBT_EXECUTABLE,
    )


def prepare_manifest(project: DbtProject) -> Path:
    """`dbt parse` into the project's target folder, with this venv's dbt and the project's
    profiles and target (dagster-dbt's own preparer would look for `dbt` on PATH)."""
    dbt_cli(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path


def _sources_newest_mtime(project_dir: Path) -> float:
    """The newest modification time of the files `dbt parse` reads."""
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots"):
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)


def manifest_is_stale(project: DbtProject) -> bool:
    """Missing, or older than a model, macro or config file (an edit, a git pull)."""
    manifest = project.manifest_path
    return not manifest.exists() or manifest.stat().st_mtime < _sources_newest_mtime(
        Path(project.project_dir)
    )


# the target at import: the code location's dbt project is built for one (CC_ASSETS_DBT_TARGET)
dbt_project = DbtProject(
    project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, target=load_settings().dbt_target
)
if dbt_project.preparer.using_dagster_dev() and manifest_is_stale(dbt_project):
    prepare_manifest(dbt_project)  # DbtProject.prepare_if_dev, skipped when nothing changed


def prepared_manifest(project: DbtProject = dbt_project) -> Path:
    """The manifest the definitions are built from; a missing one is an error that names the
    step preparing it (nothing is parsed behind the caller's back)."""
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"{project.manifest_path} is missing: prepare the dbt manifest once with "
            "`make manifest` (or `python -m cc_assets.defs.analytics.project`)"
        )
    return project.manifest_path


def main() -> None:
    """`python -m cc_assets.defs.analytics.project`: prepare the manifest, print its path."""
    print(prepare_manifest(dbt_project))


if __name__ == "__main__":
    main()


PARTIAL_PARSE = "partial_parse.msgpack"


@contextmanager
def build_target(run_id: str) -> Iterator[Path]:
    """A target folder of its own for one dbt invocation of run `run_id`, seeded with this
    deployment's last partial parse (`CC_ASSETS_STATE_DIR/dbt`); once dbt is done, the
    parse it wrote becomes the deployment's (replaced atomically: two builds may end at once)
    and the folder is removed.

    dbt re-parses the whole project when the profile's environment differs from the one it
    last parsed with, and every deployment's differs from `make manifest`'s (the warehouse
    path at least): without this every build parsed the project from scratch, about 8 s of a
    small refresh's dbt step on a loaded 2-core machine. dbt checks a saved parse against the
    project's files, its version and the profile itself, so a stale one costs a parse, never a
    wrong build."""
    store = state_dir() / "dbt"
    store.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f"build-{run_id[:8]}-", dir=store))
    saved = store / PARTIAL_PARSE
    try:
        if saved.exists():
            shutil.copy(saved, target / PARTIAL_PARSE)
        yield target
        written = target / PARTIAL_PARSE
        if written.exists():
            staged = target / f"{PARTIAL_PARSE}.staged"
            shutil.copy(written, staged)
            os.replace(staged, saved)
    finally:
        shutil.rmtree(target, ignore_errors=True)
