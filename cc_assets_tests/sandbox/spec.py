"""Response validation against Constant Contact's official OpenAPI file (reference folder)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC = Path(__file__).parent / "reference" / "cc_v3_openapi_official_csharp_client.yaml"
"""A copy of the spec Constant Contact's official C# client ships with
(`constantcontact/constant-contact-v3api-client-csharp` : `api/openapi.yaml` @ 25991d73,
), kept in the repo so the suite runs wherever it is cloned."""
SPEC_SHA256 = "677a813ec25feb6cb3d6ce5101a95c97e3a657fbbfda396c74d2e05d7c7d01e2"
SPEC_HOST = "https://api.cc.email"


def _plain(node: Any) -> Any:
    """The spec embeds a few YAML binary scalars; JSON Schema needs text."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node.decode("latin-1") if isinstance(node, bytes) else node


@cache
def official_spec() -> OpenAPI:
    raw = SPEC.read_bytes()
    if hashlib.sha256(raw).hexdigest() != SPEC_SHA256:
        raise RuntimeError(f"{SPEC} is not the official file (sha256 differs)")
    return OpenAPI.from_dict(_plain(yaml.load(raw, Loader=yaml.CSafeLoader)))


class _Request:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host_url = SPEC_HOST
        self.path = parts.path
        self.full_url_pattern = SPEC_HOST + parts.path
        self.method = "get"
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(parts.query)),
            header=Headers({"Authorization": "Bearer token"}),
            cookie=ImmutableMultiDict(),
            path={},
        )
        self.body = None
        self.content_type = "application/json"


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.content_type = "application/json"
        self.headers = Headers({"Content-Type": "application/json"})


def validate(response: httpx.Response) -> None:
    """Raise if the response does not match the official spec for its path and status."""
    official_spec().validate_response(_Request(str(response.request.url)), _Response(response))
