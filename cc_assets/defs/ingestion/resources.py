"""The project's resources, built as Dagster's own deployments build theirs: the secrets are
`dg.EnvVar` fields (the UI shows the variable, never its value), resolved when a run starts;
every other setting comes from `cc_assets.settings` when the resource is opened. A resource
never starts a sandbox: without credentials it fails naming the variables, and the edges
(`cc-assets refresh`, `make ui`, `make demo`) point the environment at the built-in sandbox
before anything runs.
"""

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import dagster as dg
from pydantic import Field
from upath import UPath

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import account_root, lake_root
from cc_assets.pipeline.reports import Reports, open_reports
from cc_assets.settings import SECRETS, Settings, load_settings


class ConstantContactResource(dg.ConfigurableResource):
    """Opens the account's `Reports`: its secrets from these fields, unset ones and every other
    setting from the environment when opened (`cc_assets.settings`)."""

    access_token: str | None = Field(default=None, description=SECRETS["access_token"])
    client_secret: str | None = Field(default=None, description=SECRETS["client_secret"])
    refresh_token: str | None = Field(default=None, description=SECRETS["refresh_token"])
    api_key: str | None = Field(default=None, description=SECRETS["api_key"])
    token_store: str | None = Field(default=None, description=SECRETS["token_store"])

    @classmethod
    def from_settings(cls, settings: Settings) -> "ConstantContactResource":
        """The code location's resource: a `dg.EnvVar` for each secret set. An unset
        `dg.EnvVar` would fail every run, so an unset secret stays None (read when opened)."""
        names = {k: dg.EnvVar(v) for k, v in SECRETS.items() if settings.environ.get(v)}
        return cls(**names)

    def client_settings(self, account: str | None = None) -> ClientSettings:
        """The settings of `account` (a name of the accounts file; None: the single account)."""
        settings = load_settings().client(account, **{k: getattr(self, k) for k in SECRETS})
        if not settings.has_credentials:
            raise ConfigurationError(
                "CONSTANT_CONTACT_ACCESS_TOKEN",
                "no Constant Contact credentials are set: set them, or start the pipeline with "
                "`cc-assets refresh` or `make ui`, which use the built-in sandbox without them",
            )
        return settings

    @contextmanager
    def open(
        self, log: dg.DagsterLogManager | None = None, account: str | None = None
    ) -> Iterator[Reports]:
        """`account`'s reports (v3 or v2, as the settings say) over one client; every account
        of the application spends the key's one budget (`client.budget_key`)."""
        callbacks = {"on_event": log.info, "on_warning": log.warning} if log else {}
        with open_reports(self.client_settings(account), **callbacks) as reports:
            yield reports


class LakeResource(dg.ConfigurableResource):
    """The Parquet lake's root (CC_ASSETS_STORAGE when unset): every reader and writer of the
    lake in the code location takes it from here.

    Every step that writes the lake uses it, so it is also where a step's own process (the
    multiprocess executor's) is bound to its run's: it must not go on writing the lake beside
    the next run after the process that ran it was killed (`die_with_orchestrator`)."""

    storage: str | None = Field(default=None, description="local path or fsspec URL")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        die_with_orchestrator()

    def root(self, account: str | None = None) -> UPath:
        """The lake of `account` (`account_root`); None: the single account's, the root."""
        return account_root(lake_root(self.storage or load_settings().lake), account)


PR_SET_PDEATHSIG = 1


def die_with_orchestrator() -> None:
    """In a step's own process (a child started by Dagster's multiprocess executor): be
    killed when the process that orchestrates the run dies. Linux sends SIGKILL on the
    parent's death (`prctl(PR_SET_PDEATHSIG)`); a parent already gone means exit now. In the
    orchestrating process itself (in-process execution) nothing changes."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    with suppress(OSError, AttributeError):  # not Linux: no such call; the parent check stays
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent.pid:
        os._exit(1)


defs = dg.Definitions(
    resources={
        "constant_contact": ConstantContactResource.from_settings(load_settings()),
        "lake": LakeResource(),
    }
)
