"""The Constant Contact v3 reporting client: one object, one connection pool, typed reports.

Transport concerns are layered around each request, not sprinkled through callers: the shared
request budget first, then the bearer token, then one request under a deadline (connect, read,
and the whole body, streamed against a monotonic clock), then retries with exponential backoff
and jitter (tenacity): many for throttling, 5xx, dropped connections and truncated bodies
(`Retry-After` honoured up to a minute), a few within seconds for a host that does not answer.
Nothing a response says is trusted: pagination links, body shapes and tracking rows are checked
before use, and error text is redacted before it is shown.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pyarrow as pa
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from cc_assets.constant_contact import parsing, shapes, validation
from cc_assets.constant_contact.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    ConstantContactError,
    DeadlineExceededError,
    ForeignLinkError,
    InvalidRowError,
    MalformedResponseError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitedError,
    RetryAfterError,
    ServerError,
    TokenRefreshedError,
    TransientError,
    UnexpectedResponseError,
    UnreachableError,
    redact,
)
from cc_assets.constant_contact.ratelimit import FileBudget, RedisBudget, RequestBudget, next_reset
from cc_assets.constant_contact.schemas import (
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
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.tokens import TokenManager
from cc_assets.settings import state_dir

log = logging.getLogger("cc_assets.constant_contact")

ALL_ACTIVITY_TYPES = (
    "em_sends", "em_opens", "em_clicks", "em_bounces", "em_optouts", "em_forwards",
    "p_contact_open", "p_contact_click", "p_contact_add", "p_contact_update",
)  # fmt: skip
CAMPAIGN_FIELDS = (
    "campaign_id", "name", "current_status", "type", "type_code", "created_at", "updated_at",
)  # fmt: skip
"""A campaign's own fields (`/emails` items and `/emails/{id}`): `email_campaigns` holds each."""
ACTIVITY_FIELDS = (
    "campaign_activity_id", "campaign_id", "role", "current_status", "subject", "from_name",
    "from_email", "reply_to_email",
    # documented or recorded, deliberately not stored: the audience, the content and its
    # layout say nothing about how a send performed
    "contact_list_ids", "segment_ids", "format_type", "preheader", "template_id",
    "document_id", "html_content", "permalink_url", "physical_address_in_footer",
    "document_properties",
)  # fmt: skip
"""What `/emails/activities/{id}` may carry without a warning."""
SEND_FIELDS = ("send_id", "contact_list_ids", "segment_ids", "count", "run_date",
               "send_status", "reason_code")  # fmt: skip
"""A send history item's documented fields (the snapshot keeps the last completed run)."""
ACTIVITY_STATS_BATCH = 10
CAMPAIGN_STATS_BATCH = 150
CURSOR_PARAMS = ("next", "cursor")
"""The query parameter that carries the cursor: `next` for reports, `cursor` for contacts."""
PAGE_LIMIT = 500
DEFAULT_MAX_PAGES = 10_000
"""Pages one read may take when its size is unknown: 5,000,000 rows at 500 a page."""
MAX_BODY_BYTES = 64 << 20
"""A page of 500 rows is well under a megabyte; a body past this is not a page."""
MAX_RETRY_SECONDS = 600.0
"""Throttling, 5xx, dropped connections, truncated bodies pass: `settings.max_attempts` tries
within this many seconds."""
UNREACHABLE_ATTEMPTS, UNREACHABLE_SECONDS = 3, 15.0
"""No connection at all: a few tries within seconds."""
DEADLINE_ATTEMPTS = 2
"""Accepted but not answered in time: one more try."""
RETRY_AFTER_CAP = 60.0
"""The longest `Retry-After` waited for; a longer one is waited this long, then retried."""
V3_CREDENTIALS_HINT = (
    "check CONSTANT_CONTACT_ACCESS_TOKEN, or CONSTANT_CONTACT_CLIENT_ID,"
    " CONSTANT_CONTACT_CLIENT_SECRET and CONSTANT_CONTACT_REFRESH_TOKEN"
)


@dataclass(frozen=True)
class ApiErrorItem:
    error_key: str
    error_message: str


@dataclass
class StatsResult:
    batch: pa.RecordBatch
    errors: list[ApiErrorItem] = field(default_factory=list)


def _error_items(body: Any) -> list[ApiErrorItem]:
    """CC's error bodies: usually an array, an object for 401 and 429."""
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [
        ApiErrorItem(str(i.get("error_key", "")), str(i.get("error_message", "")))
        for i in items
        if isinstance(i, dict)
    ]


def budget_key(settings: ClientSettings) -> str:
    """Constant Contact counts its limits per application key, whatever account a call is
    for: every account of one app (its client id, or its v2 API key) shares one budget on
    one API root. Settings without an application (a bare access token) count per API root."""
    app = settings.client_id or settings.api_key
    scope = settings.base_url if app is None else f"{settings.base_url}|{app}"
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def request_budget(settings: ClientSettings) -> RequestBudget:
    key = budget_key(settings)
    if settings.rate_limit_url and settings.rate_limit_url.startswith(("redis://", "rediss://")):
        return RedisBudget(
            settings.rate_limit_url, key, settings.requests_per_second, settings.daily_quota
        )
    return FileBudget(
        state_dir() / f"budget-{key}.json", settings.requests_per_second, settings.daily_quota
    )


@dataclass(frozen=True)
class AccountIdentity:
    """The account a token belongs to, as Constant Contact names it."""

    encoded_account_id: str
    organization_name: str | None


@dataclass(frozen=True)
class Reply:
    """A decoded 200 body and the response's own time: the `Date` header when it is earlier
    than our clock, else our clock (a server's word never moves "now" into the future)."""

    body: Any
    served_at: datetime


def served_at(date_header: str | None, received: datetime) -> datetime:
    """The earlier of the `Date` header (when it parses, with a zone) and `received`."""
    if date_header:
        try:
            stamped = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return received
        if stamped.tzinfo is not None:
            return min(stamped.astimezone(UTC), received)
    return received


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now (it is a number of seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _stop(max_attempts: int, connect_timeout: float, state: RetryCallState) -> bool:
    """How long to keep trying depends on what failed (see the module docstring)."""
    error = state.outcome.exception() if state.outcome else None
    elapsed = state.seconds_since_start or 0.0
    if isinstance(error, UnreachableError):  # stop early when the next try would end late
        late = elapsed + connect_timeout + 1 > UNREACHABLE_SECONDS
        return state.attempt_number >= UNREACHABLE_ATTEMPTS or late
    if isinstance(error, DeadlineExceededError):
        return state.attempt_number >= DEADLINE_ATTEMPTS
    return state.attempt_number >= max_attempts or elapsed > MAX_RETRY_SECONDS


_backoff = wait_exponential_jitter(multiplier=0.25, max=30, jitter=1)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RetryAfterError) and error.retry_after is not None:
        return error.retry_after
    if isinstance(error, UnreachableError):
        return 1.0
    return _backoff(state)


def calls_used_today(settings: ClientSettings) -> int:
    """What the shared budget has counted today for this API root, without making a call: the
    planners spend only what is left."""
    return request_budget(settings).used_today()


class ConstantContactClient:
    """Typed access to the reports. `calls` counts HTTP requests (retries included)."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        on_event: Callable[[str], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        budget: RequestBudget | None = None,
        credentials_hint: str = V3_CREDENTIALS_HINT,
    ) -> None:
        if not settings.base_url:
            raise ValueError("ClientSettings.base_url is empty: set credentials or use the sandbox")
        self.settings = settings
        self.credentials_hint = credentials_hint
        """What to check when the API refuses our credentials for good."""
        self.on_event = on_event or (lambda message: log.info("%s", message))
        self.unknown = parsing.UnknownFields(on_warning)
        """Fields the API sent that no column holds, noted by every parser of this client."""
        read = min(settings.read_timeout, settings.deadline)
        timeout = httpx.Timeout(read, connect=settings.connect_timeout)
        self._http = httpx.Client(timeout=timeout, headers={"Accept": "application/json"})
        origin = httpx.URL(settings.base_url)
        self._origin = f"{origin.scheme}://{origin.netloc.decode()}"
        self._host = origin.host
        self._budget = budget or request_budget(settings)
        self._tokens = TokenManager(settings, self._http)
        self.calls = 0
        self.pages = 0

    def __enter__(self) -> ConstantContactClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def redact(self, text: str) -> str:
        """`text` without any secret this client holds, on one capped line."""
        settings, pair = self.settings, self._tokens.pair
        return redact(
            text,
            (
                settings.access_token,
                settings.refresh_token,
                settings.client_secret,
                settings.api_key,
                pair.access_token,
                pair.refresh_token,
            ),
        )

    # --- transport ------------------------------------------------------------------------
    def _url(self, path_or_href: str) -> str:
        """A path under the base URL, a relative `/v3/...` href, or an absolute href on the
        API's own origin (both forms are documented)."""
        if path_or_href.startswith(("http://", "https://")):
            if not path_or_href.startswith(self._origin + "/"):
                try:
                    where = urlsplit(path_or_href).path
                except ValueError:
                    where = "(not a URL)"
                raise ForeignLinkError(where, None, "a link to another host is not followed")
            return path_or_href
        if path_or_href.startswith("/v3/") or path_or_href.startswith("/v2/"):
            return self._origin + path_or_href
        return self.settings.base_url.rstrip("/") + "/" + path_or_href.lstrip("/")

    def get(self, path: str, params: Any = None) -> Any:
        """GET and decode JSON, retrying what is worth retrying."""
        return self.fetch(path, params).body

    def fetch(self, path: str, params: Any = None) -> Reply:
        """GET, decode JSON and say when the server answered."""
        url = httpx.URL(self._url(path))  # parsed once: httpx re-validates every str URL
        endpoint = url.path
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            wait=_wait,
            stop=partial(_stop, self.settings.max_attempts, self.settings.connect_timeout),
            reraise=True,
            before_sleep=lambda state: self.on_event(
                f"retrying {endpoint} after {type(state.outcome.exception()).__name__}"
                f" (attempt {state.attempt_number})"
            ),
        )
        refreshed = [False]
        return retrying(self._get_once, url, endpoint, params, refreshed)

    def _get_once(self, url: httpx.URL, endpoint: str, params: Any, refreshed: list[bool]) -> Reply:
        # The token first: a refresh (or a wait on another process's rotation) after the slot
        # was reserved would send the call late, bunched against the next process's slot.
        bearer = self._tokens.bearer()
        self._budget.acquire(endpoint)
        self.calls += 1
        response, content = self._send(url, endpoint, params, bearer)
        status = response.status_code
        if status == 200:
            received = datetime.now(UTC)
            try:
                body = orjson.loads(content)
            except orjson.JSONDecodeError:
                raise MalformedResponseError(
                    endpoint, status, "the body is not valid JSON"
                ) from None
            return Reply(body, served_at(response.headers.get("date"), received))
        return self._raise_for(endpoint, response, content, bearer, refreshed)

    def _send(
        self, url: httpx.URL, endpoint: str, query: Any, bearer: str
    ) -> tuple[httpx.Response, bytes]:
        """One request, its body read in chunks until `deadline` seconds have passed in all."""
        deadline = time.monotonic() + self.settings.deadline
        chunks: list[bytes] = []
        size = 0
        try:
            with self._http.stream(
                "GET", url, params=query, headers={"Authorization": bearer}
            ) as response:
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise UnexpectedResponseError(
                            endpoint, response.status_code, "body", f"over {MAX_BODY_BYTES} bytes"
                        )
                    if time.monotonic() > deadline:
                        raise DeadlineExceededError(
                            endpoint,
                            response.status_code,
                            f"the body took over {self.settings.deadline:g} s",
                        )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
            raise UnreachableError(
                endpoint,
                None,
                f"cannot connect to {self._host} ({type(exc).__name__});"
                " check CONSTANT_CONTACT_BASE_URL and the network",
            ) from None
        except (httpx.ReadTimeout, httpx.PoolTimeout, httpx.WriteTimeout):
            raise DeadlineExceededError(
                endpoint,
                None,
                f"{self._host} did not answer within {self.settings.read_timeout:g} s",
            ) from None
        except httpx.DecodingError:
            raise MalformedResponseError(
                endpoint, None, "the body does not decode as its Content-Encoding says"
            ) from None
        except httpx.TransportError as exc:
            raise ConnectionFailedError(endpoint, None, type(exc).__name__) from None
        return response, b"".join(chunks)

    def _raise_for(
        self,
        endpoint: str,
        response: httpx.Response,
        content: bytes,
        bearer: str,
        refreshed: list[bool],
    ) -> Any:
        status = response.status_code
        try:
            items = _error_items(orjson.loads(content))
        except orjson.JSONDecodeError:
            items = []
        message = self.redact(
            "; ".join(f"{i.error_key}: {i.error_message}" for i in items) or response.reason_phrase
        )
        keys = {i.error_key for i in items}
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if status == 401:
            if self.settings.can_refresh and not refreshed[0]:
                refreshed[0] = True
                self._tokens.refresh(stale=bearer.removeprefix("Bearer "))
                raise TokenRefreshedError(endpoint, status, "the access token was refreshed")
            raise AuthenticationError(endpoint, status, f"{message}; {self.credentials_hint}")
        if status == 429 or (status == 403 and any("mashery" in k for k in keys)):
            if "quota_exceeded" in keys or any("ratelimit" in k for k in keys):
                raise QuotaExceededError(endpoint, status, message, next_reset())
            raise RateLimitedError(endpoint, status, message, wait)
        if status >= 500:
            raise ServerError(endpoint, status, message, wait if status == 503 else None)
        errors = {400: BadRequestError, 403: PermissionDeniedError, 404: NotFoundError}
        raise errors.get(status, ConstantContactError)(endpoint, status, message)

    def iter_pages(
        self, path: str, params: Any = None, *, max_pages: int = DEFAULT_MAX_PAGES
    ) -> Iterator[dict[str, Any]]:
        """Every page's body (a JSON object), following `_links.next.href`."""
        for reply in self.iter_replies(path, params, max_pages=max_pages):
            yield reply.body

    def iter_replies(
        self, path: str, params: Any = None, *, max_pages: int = DEFAULT_MAX_PAGES
    ) -> Iterator[Reply]:
        """Every page, following `_links.next.href` until it is absent. A `next` that repeats
        a link or cursor of this read, leaves the report's own path or exceeds `max_pages`
        raises `PaginationError`: a loop is never followed, another report is never mixed in."""
        first = httpx.URL(self._url(path), params=params)
        own_path = first.path
        seen_links = {first.raw_path.decode()}
        seen_cursors: set[str] = set()
        url: str | None = path
        count = 0
        while url is not None:
            reply = self.fetch(url, params)
            params = None  # the href carries the cursor and the limit
            self.pages += 1
            count += 1
            body = shapes.obj(reply.body, own_path)
            yield reply
            href = _next_href(body, own_path)
            if href is None:
                return
            try:
                target = httpx.URL(self._url(href))
            except httpx.InvalidURL:
                raise PaginationError(own_path, 200, "the next link is not a URL") from None
            if target.path != own_path:
                raise PaginationError(
                    own_path, 200, f"the next link leaves this report for {target.path}"
                )
            cursor = next((target.params[p] for p in CURSOR_PARAMS if p in target.params), None)
            link = target.raw_path.decode()
            if link in seen_links or (cursor is not None and cursor in seen_cursors):
                raise PaginationError(
                    own_path, 200, f"the next link repeats one already read (page {count + 1})"
                )
            seen_links.add(link)
            if cursor is not None:
                seen_cursors.add(cursor)
            if count >= max_pages:
                raise PaginationError(
                    own_path, 200, f"more than {max_pages} pages: more than this report holds"
                )
            url = href

    # --- discovery ------------------------------------------------------------------------
    def iter_campaigns(self, after_date: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every campaign (each with a string `campaign_id`), newest first."""
        params: dict[str, Any] = {"limit": 500}
        if after_date is not None:
            params["after_date"] = after_date.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        endpoint = httpx.URL(self._url("emails")).path
        for page in self.iter_pages("emails", params):
            campaigns = shapes.member_objects(page, "campaigns", endpoint)
            self.unknown.note("GET /emails", page, ("campaigns", "_links"))
            self.unknown.note_items("GET /emails campaigns", campaigns, CAMPAIGN_FIELDS)
            for index, campaign in enumerate(campaigns):
                shapes.text(campaign, "campaign_id", endpoint, f"campaigns[{index}]")
                shapes.optional_text(campaign, "updated_at", endpoint, f"campaigns[{index}]")
            yield from campaigns

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        """One campaign; its `campaign_activities` each carry an id and a role."""
        path = f"emails/{campaign_id}"
        endpoint = httpx.URL(self._url(path)).path
        detail = shapes.obj(self.get(path), endpoint)
        refs = shapes.member_objects(detail, "campaign_activities", endpoint, required=False)
        self.unknown.note("GET /emails/{id}", detail, (*CAMPAIGN_FIELDS, "campaign_activities"))
        self.unknown.note_items(
            "GET /emails/{id} campaign_activities", refs, ("campaign_activity_id", "role")
        )
        for index, ref in enumerate(refs):
            where = f"campaign_activities[{index}]"
            shapes.text(ref, "campaign_activity_id", endpoint, where)
            shapes.optional_text(ref, "role", endpoint, where)
        return detail

    def get_account_identity(self) -> AccountIdentity:
        """Whose data this token reads: `GET /account/summary` (scope `account_read`), the
        `Customer` schema's `encoded_account_id` and `organization_name`."""
        path = "account/summary"
        endpoint = httpx.URL(self._url(path)).path
        body = shapes.obj(self.get(path), endpoint)
        account_id = shapes.text(body, "encoded_account_id", endpoint, "account")
        name = shapes.optional_text(body, "organization_name", endpoint, "account")
        return AccountIdentity(account_id, name)

    def get_activity(self, activity_id: str) -> dict[str, Any]:
        path = f"emails/activities/{activity_id}"
        endpoint = httpx.URL(self._url(path)).path
        activity = shapes.obj(self.get(path), endpoint)
        self.unknown.note("GET /emails/activities/{id}", activity, ACTIVITY_FIELDS)
        for key in ("current_status", "subject", "from_name", "from_email"):
            shapes.optional_text(activity, key, endpoint, "activity")
        return activity

    def get_send_history(self, activity_id: str) -> list[dict[str, Any]]:
        path = f"emails/activities/{activity_id}/send_history"
        endpoint = httpx.URL(self._url(path)).path
        history = shapes.objects(self.get(path), endpoint, "body")
        self.unknown.note_items("GET /emails/activities/{id}/send_history", history, SEND_FIELDS)
        for index, item in enumerate(history):
            for key in ("run_date", "send_status"):
                shapes.text(item, key, endpoint, f"[{index}]")
        return history

    # --- reports --------------------------------------------------------------------------
    def _batch(
        self, rows: list[dict[str, Any]], schema: pa.Schema, endpoint: str
    ) -> pa.RecordBatch:
        try:
            return parsing.batch(rows, schema)
        except parsing.FieldError as exc:
            raise UnexpectedResponseError(
                endpoint, 200, exc.field, self.redact(exc.reason)
            ) from None

    def iter_campaign_summaries(self) -> Iterator[pa.RecordBatch]:
        schema = parsing.api_schema(EMAIL_CAMPAIGN_SUMMARIES)
        path = "reports/summary_reports/email_campaign_summaries"
        endpoint = httpx.URL(self._url(path)).path
        where = "email_campaign_summaries"
        for page in self.iter_pages(path, {"limit": 500}):
            items = shapes.member_objects(page, "bulk_email_campaign_summaries", endpoint)
            self.unknown.note(
                where, page, ("bulk_email_campaign_summaries", "aggregate_percents", "_links")
            )
            try:
                shared = parsing.aggregate_percents(page.get("aggregate_percents"))
                rows = []
                for item in items:
                    counts = shapes.obj(item.get("unique_counts") or {}, endpoint, "unique_counts")
                    self.unknown.note(f"{where} unique_counts", counts, SUMMARY_COUNT_KEYS)
                    row = {k: v for k, v in item.items() if k != "unique_counts"}
                    rows.append({**row, **counts, **shared})
            except parsing.FieldError as exc:
                raise UnexpectedResponseError(endpoint, 200, exc.field, exc.reason) from None
            self.unknown.note_items(f"{where} items", rows, schema.names)
            yield self._batch(rows, schema, endpoint)

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
        endpoint = httpx.URL(self._url(f"reports/stats/{kind}")).path
        schema = parsing.api_schema(table)
        for start in range(0, len(ids), size):
            body = shapes.obj(
                self.get(f"reports/stats/{kind}/{','.join(ids[start : start + size])}"), endpoint
            )
            results = shapes.member_objects(body, "results", endpoint, required=False)
            self.unknown.note(kind, body, ("results", "errors"))
            try:
                rows += [parsing.stats_row(r, keys, kind, schema, self.unknown) for r in results]
            except parsing.FieldError as exc:
                raise UnexpectedResponseError(endpoint, 200, exc.field, exc.reason) from None
            listed = _error_items(shapes.member_objects(body, "errors", endpoint, required=False))
            errors += [ApiErrorItem(i.error_key, self.redact(i.error_message)) for i in listed]
        return StatsResult(self._batch(rows, schema, endpoint), errors)

    def iter_tracking(
        self,
        activity_id: str,
        report: str,
        *,
        expected_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """One batch per page, newest first (the order the API serves), every row checked
        (`validation.check_rows`). `expected_rows` (e.g. from the activity's stats) sets the
        page budget; without it the budget is `DEFAULT_MAX_PAGES`."""
        if report not in TRACKING_REPORTS:
            raise ValueError(f"unknown tracking report {report!r}; one of {TRACKING_REPORTS}")
        schema = parsing.api_schema(TRACKING_TABLES[report])
        path = f"reports/email_reports/{activity_id}/tracking/{report}"
        required = validation.required_fields(report)
        equal = {"campaign_activity_id": activity_id}
        yield from self._tracking_pages(
            path, {"limit": PAGE_LIMIT}, report, schema, required, equal, page_budget(expected_rows)
        )

    def _tracking_pages(
        self,
        path: str,
        params: dict[str, Any],
        where: str,
        schema: pa.Schema,
        required: tuple[str, ...],
        equal: dict[str, str],
        max_pages: int,
    ) -> Iterator[pa.RecordBatch]:
        limit = int(params["limit"])
        for reply in self.iter_replies(path, params, max_pages=max_pages):
            endpoint = httpx.URL(self._url(path)).path
            items = shapes.member_objects(reply.body, "tracking_activities", endpoint)
            self.unknown.note(where, reply.body, ("tracking_activities", "_links"))
            if len(items) > limit:
                raise UnexpectedResponseError(
                    endpoint,
                    200,
                    "tracking_activities",
                    f"{len(items)} rows, over the limit {limit}",
                )
            try:
                batch = parsing.tracking_rows(items, where, schema, self.unknown)
                validation.check_rows(batch, required, equal, reply.served_at)
            except parsing.FieldError as exc:
                raise InvalidRowError(endpoint, 200, exc.field, self.redact(exc.reason)) from None
            yield batch

    def get_links(self, activity_id: str, no_clicks: bool = True) -> pa.RecordBatch:
        path = f"reports/email_reports/{activity_id}/links"
        endpoint = httpx.URL(self._url(path)).path
        body = shapes.obj(self.get(path, {"no_clicks": str(no_clicks).lower()}), endpoint)
        rows = [
            {**row, "campaign_activity_id": activity_id}
            for row in shapes.member_objects(body, "link_click_counts", endpoint, required=False)
        ]
        schema = parsing.api_schema(EMAIL_LINKS)
        self.unknown.note("links", body, ("campaign_activity_id", "link_click_counts"))
        self.unknown.note_items("links link_click_counts", rows, schema.names)
        return self._batch(rows, schema, endpoint)

    def iter_contact_activity(
        self, contact_id: str, types: Sequence[str] = ALL_ACTIVITY_TYPES
    ) -> Iterator[pa.RecordBatch]:
        schema = parsing.api_schema(CONTACT_ACTIVITY_DETAILS)
        params = {"tracking_activities_list": ",".join(types), "limit": 100}
        path = f"reports/contact_reports/{contact_id}/activity_details"
        yield from self._tracking_pages(
            path,
            params,
            "activity_details",
            schema,
            validation.CONTACT_ACTIVITY_REQUIRED,
            {"contact_id": contact_id},
            DEFAULT_MAX_PAGES,
        )


def page_budget(expected_rows: int | None, limit: int = PAGE_LIMIT) -> int:
    """Pages a report of about `expected_rows` rows may take: a fifth more rows than expected
    (events keep arriving between the stats call and the read) and a few pages of slack."""
    if expected_rows is None:
        return DEFAULT_MAX_PAGES
    return math.ceil(max(expected_rows, 0) * 1.2 / limit) + 3


def _next_href(body: dict[str, Any], endpoint: str) -> str | None:
    links = body.get("_links")
    if links is None:
        return None
    nxt = shapes.obj(links, endpoint, "_links").get("next")
    if nxt is None:
        return None
    href = shapes.obj(nxt, endpoint, "_links.next").get("href")
    if href is None or href == "":
        return None
    if not isinstance(href, str):
        raise UnexpectedResponseError(endpoint, 200, "_links.next.href", "expected a string")
    return href
