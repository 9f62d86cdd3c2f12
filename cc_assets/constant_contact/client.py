"""The Constant Contact v3 reporting client: one object, one connection pool, typed reports.

Transport concerns are layered around each request, not sprinkled through callers: the shared
request budget first, then the bearer token, then retries with exponential backoff and jitter
(tenacity) on throttling, 5xx, dropped connections and truncated bodies.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pyarrow as pa
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from cc_assets.constant_contact import parsing
from cc_assets.constant_contact.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    ConstantContactError,
    ForeignLinkError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    TokenRefreshedError,
    TransientError,
)
from cc_assets.constant_contact.ratelimit import FileBudget, RedisBudget, RequestBudget, next_reset
from cc_assets.constant_contact.settings import ClientSettings, state_dir
from cc_assets.constant_contact.tokens import TokenManager
from cc_assets.lake.schemas import (
    ACTIVITY_STATS_KEYS,
    CAMPAIGN_STATS_KEYS,
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGN_SUMMARIES,
    EMAIL_LINKS,
    SUMMARY_COUNT_KEYS,
    TRACKING_REPORTS,
    TRACKING_TABLES,
    AssetTable,
)

log = logging.getLogger("cc_assets.constant_contact")

ALL_ACTIVITY_TYPES = (
    "em_sends", "em_opens", "em_clicks", "em_bounces", "em_optouts", "em_forwards",
    "p_contact_open", "p_contact_click", "p_contact_add", "p_contact_update",
)  # fmt: skip
ACTIVITY_STATS_BATCH = 10
CAMPAIGN_STATS_BATCH = 150


@dataclass(frozen=True)
class ApiErrorItem:
    error_key: str
    error_message: str


@dataclass
class StatsResult:
    batch: pa.RecordBatch
    errors: list[ApiErrorItem] = field(default_factory=list)


def _error_items(body: Any) -> list[ApiErrorItem]:
    """CC's error bodies: usually an array, an object for 401 and 429 (reference §2.3)."""
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [
        ApiErrorItem(str(i.get("error_key", "")), str(i.get("error_message", "")))
        for i in items
        if isinstance(i, dict)
    ]


def _budget(settings: ClientSettings) -> RequestBudget:
    key = hashlib.sha256(settings.base_url.encode()).hexdigest()[:16]
    if settings.rate_limit_url and settings.rate_limit_url.startswith(("redis://", "rediss://")):
        return RedisBudget(
            settings.rate_limit_url, key, settings.requests_per_second, settings.daily_quota
        )
    return FileBudget(
        state_dir() / f"budget-{key}.json", settings.requests_per_second, settings.daily_quota
    )


def calls_used_today(settings: ClientSettings) -> int:
    """What the shared budget has counted today for this API root, without making a call: the
    planners spend only what is left."""
    return _budget(settings).used_today()


class ConstantContactClient:
    """Typed access to the reports. `calls` counts HTTP requests (retries included)."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        on_event: Callable[[str], None] | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        if not settings.base_url:
            raise ValueError("ClientSettings.base_url is empty: set credentials or use the sandbox")
        self.settings = settings
        self.on_event = on_event or (lambda message: log.info("%s", message))
        self._http = httpx.Client(timeout=settings.timeout, headers={"Accept": "application/json"})
        origin = httpx.URL(settings.base_url)
        self._origin = f"{origin.scheme}://{origin.netloc.decode()}"
        self._budget = budget or _budget(settings)
        self._tokens = TokenManager(settings, self._http)
        self.calls = 0
        self.pages = 0

    def __enter__(self) -> ConstantContactClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- transport ------------------------------------------------------------------------
    def _url(self, path_or_href: str) -> str:
        """A path under the base URL, a relative `/v3/...` href, or an absolute href on the
        API's own origin (both forms are documented, reference §10-N)."""
        if path_or_href.startswith(("http://", "https://")):
            if not path_or_href.startswith(self._origin + "/"):
                raise ForeignLinkError(
                    urlsplit(path_or_href).path, None, "a link to another host is not followed"
                )
            return path_or_href
        if path_or_href.startswith("/v3/") or path_or_href.startswith("/v2/"):
            return self._origin + path_or_href
        return self.settings.base_url.rstrip("/") + "/" + path_or_href.lstrip("/")

    def get(self, path: str, params: Any = None) -> Any:
        """GET and decode JSON, retrying what is worth retrying."""
        url = httpx.URL(self._url(path))  # parsed once: httpx re-validates every str URL
        endpoint = url.path
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential_jitter(multiplier=0.25, max=30, jitter=1),
            stop=stop_after_attempt(10) | stop_after_delay(600),
            reraise=True,
            before_sleep=lambda state: self.on_event(
                f"retrying {endpoint} after {type(state.outcome.exception()).__name__}"
                f" (attempt {state.attempt_number})"
            ),
        )
        refreshed = [False]
        return retrying(self._get_once, url, endpoint, params, refreshed)

    def _get_once(self, url: httpx.URL, endpoint: str, params: Any, refreshed: list[bool]) -> Any:
        self._budget.acquire(endpoint)
        bearer = self._tokens.bearer()
        query = params
        if self.settings.api_version == "v2" and self.settings.api_key:
            query = [
                *(httpx.QueryParams(params or {}).multi_items()),
                ("api_key", self.settings.api_key),
            ]
        try:
            self.calls += 1
            response = self._http.get(url, params=query, headers={"Authorization": bearer})
        except httpx.TransportError as exc:
            raise ConnectionFailedError(endpoint, None, type(exc).__name__) from None
        status = response.status_code
        if status == 200:
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise MalformedResponseError(
                    endpoint, status, "the body is not valid JSON"
                ) from None
        return self._raise_for(endpoint, response, bearer, refreshed)

    def _raise_for(
        self, endpoint: str, response: httpx.Response, bearer: str, refreshed: list[bool]
    ) -> Any:
        status = response.status_code
        try:
            items = _error_items(orjson.loads(response.content))
        except orjson.JSONDecodeError:
            items = []
        message = (
            "; ".join(f"{i.error_key}: {i.error_message}" for i in items) or response.reason_phrase
        )
        keys = {i.error_key for i in items}
        if status == 401:
            if self.settings.can_refresh and not refreshed[0]:
                refreshed[0] = True
                self._tokens.refresh(stale=bearer.removeprefix("Bearer "))
                raise TokenRefreshedError(endpoint, status, "the access token was refreshed")
            raise AuthenticationError(endpoint, status, message)
        if status == 429 or (status == 403 and any("mashery" in k for k in keys)):
            if "quota_exceeded" in keys or any("ratelimit" in k for k in keys):
                raise QuotaExceededError(endpoint, status, message, next_reset())
            raise RateLimitedError(endpoint, status, message)
        if status >= 500:
            raise ServerError(endpoint, status, message)
        errors = {400: BadRequestError, 403: PermissionDeniedError, 404: NotFoundError}
        raise errors.get(status, ConstantContactError)(endpoint, status, message)

    def iter_pages(self, path: str, params: Any = None) -> Iterator[dict[str, Any]]:
        """Every page, following `_links.next.href` verbatim until it is absent."""
        url: str | None = path
        while url is not None:
            body = self.get(url, params)
            params = None  # the href carries the cursor and the limit
            self.pages += 1
            yield body
            href = (
                ((body.get("_links") or {}).get("next") or {}).get("href")
                if isinstance(body, dict)
                else None
            )
            url = href or None

    # --- discovery ------------------------------------------------------------------------
    def iter_campaigns(self, after_date: datetime | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 500}
        if after_date is not None:
            params["after_date"] = after_date.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for page in self.iter_pages("emails", params):
            yield from page.get("campaigns", [])

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        return self.get(f"emails/{campaign_id}")

    def get_activity(self, activity_id: str) -> dict[str, Any]:
        return self.get(f"emails/activities/{activity_id}")

    def get_send_history(self, activity_id: str) -> list[dict[str, Any]]:
        return self.get(f"emails/activities/{activity_id}/send_history")

    # --- reports --------------------------------------------------------------------------
    def iter_campaign_summaries(self) -> Iterator[pa.RecordBatch]:
        schema = parsing.api_schema(EMAIL_CAMPAIGN_SUMMARIES)
        path = "reports/summary_reports/email_campaign_summaries"
        for page in self.iter_pages(path, {"limit": 500}):
            shared = parsing.aggregate_percents(page.get("aggregate_percents"))
            rows = []
            for item in page.get("bulk_email_campaign_summaries", []):
                counts = item.get("unique_counts") or {}
                parsing.warn_unknown("unique_counts", counts, SUMMARY_COUNT_KEYS)
                rows.append({**item, **counts, **shared})
            yield parsing.batch(rows, schema)

    def get_campaign_stats(self, campaign_ids: Sequence[str]) -> StatsResult:
        """Stats and CC's percents per campaign (150 ids a call; one unsent id fails a call)."""
        return self._stats(
            "email_campaigns",
            campaign_ids,
            CAMPAIGN_STATS_BATCH,
            CAMPAIGN_STATS_KEYS,
            EMAIL_CAMPAIGN_STATS,
        )

    def get_activity_stats(self, activity_ids: Sequence[str]) -> StatsResult:
        """Stats per activity, ten ids a call; unknown or unsent ids come back as `errors`."""
        return self._stats(
            "email_campaign_activities",
            activity_ids,
            ACTIVITY_STATS_BATCH,
            ACTIVITY_STATS_KEYS,
            EMAIL_CAMPAIGN_ACTIVITY_STATS,
        )

    def _stats(
        self, kind: str, ids: Sequence[str], size: int, keys: Sequence[str], table: AssetTable
    ) -> StatsResult:
        rows, errors = [], []
        for start in range(0, len(ids), size):
            body = self.get(f"reports/stats/{kind}/{','.join(ids[start : start + size])}")
            rows += [parsing.stats_row(r, keys, kind) for r in body.get("results", [])]
            errors += _error_items(body.get("errors", []))
        return StatsResult(parsing.batch(rows, parsing.api_schema(table)), errors)

    def iter_tracking(self, activity_id: str, report: str) -> Iterator[pa.RecordBatch]:
        """One batch per page, newest first (the order the API serves)."""
        if report not in TRACKING_REPORTS:
            raise ValueError(f"unknown tracking report {report!r}; one of {TRACKING_REPORTS}")
        schema = parsing.api_schema(TRACKING_TABLES[report])
        path = f"reports/email_reports/{activity_id}/tracking/{report}"
        for page in self.iter_pages(path, {"limit": 500}):
            yield parsing.tracking_rows(page.get("tracking_activities") or [], report, schema)

    def get_links(self, activity_id: str, no_clicks: bool = True) -> pa.RecordBatch:
        body = self.get(
            f"reports/email_reports/{activity_id}/links", {"no_clicks": str(no_clicks).lower()}
        )
        rows = [
            {**row, "campaign_activity_id": activity_id}
            for row in body.get("link_click_counts", [])
        ]
        schema = parsing.api_schema(EMAIL_LINKS)
        parsing.warn_unknown("links", {k for r in rows for k in r}, schema.names)
        return parsing.batch(rows, schema)

    def iter_contact_activity(
        self, contact_id: str, types: Sequence[str] = ALL_ACTIVITY_TYPES
    ) -> Iterator[pa.RecordBatch]:
        schema = parsing.api_schema(CONTACT_ACTIVITY_DETAILS)
        params = {"tracking_activities_list": ",".join(types), "limit": 100}
        path = f"reports/contact_reports/{contact_id}/activity_details"
        for page in self.iter_pages(path, params):
            yield parsing.tracking_rows(
                page.get("tracking_activities") or [], "activity_details", schema
            )
