"""Opaque cursors, shaped like CC's: base64 of a query string that carries the page limit.

A cursor holds the composite key of the last row served, so it is a keyset cursor: rows that
arrive at the head of a newest-first report never shift the pages after it.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlencode


class BadCursorError(ValueError):
    """The `next`/`cursor` value was not one this server issued."""


def encode_cursor(**fields: object) -> str:
    raw = urlencode({k: v for k, v in fields.items() if v is not None})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        return dict(parse_qsl(base64.urlsafe_b64decode(padded).decode(), strict_parsing=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursorError(token) from exc
