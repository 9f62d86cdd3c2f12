"""`--unknown-field everywhere`: every object of every API body carries a field no document
names, as real responses carry fields the spec lacks (`campaign_activity_type`, `document_id`).

A client must report such a field, never drop it in silence; with this variant a test sees
where it does. The field is added to every JSON object of a 200 body of `/v3/` and `/v2/`
except pagination links (`_links`, `meta`) and error items, so each record, each nested
object (`stats`, `percents`, `unique_counts`) and each page envelope carries it.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNKNOWN_FIELD = "sandbox_unknown"
SKIPPED = frozenset({"_links", "meta", "errors"})


def with_unknown_field(node: Any) -> Any:
    """`node` with `UNKNOWN_FIELD` in every object outside `SKIPPED`."""
    if isinstance(node, list):
        return [with_unknown_field(item) for item in node]
    if isinstance(node, dict):
        out = {k: v if k in SKIPPED else with_unknown_field(v) for k, v in node.items()}
        out[UNKNOWN_FIELD] = "an undocumented value"
        return out
    return node


class UnknownFieldInjector:
    """Rewrites the API's 200 bodies (buffered whole: this variant is for tests, not speed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(("/v3/", "/v2/")):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                if message["status"] != 200:
                    await send(message)
                return
            if start["status"] != 200:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = orjson.dumps(with_unknown_field(orjson.loads(b"".join(chunks))))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send=buffered)
