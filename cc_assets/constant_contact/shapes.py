"""Checks on the shape of a decoded JSON body, before any field of it is used.

A body that parsed as JSON can still be the wrong thing: a list where an object belongs, `null`,
a number for an id. Each check either returns the value with its type known or raises
`UnexpectedResponseError` naming the endpoint and the field, so a wrong shape never surfaces
as a KeyError, AttributeError or TypeError from deep inside a caller.
"""

from __future__ import annotations

from typing import Any

from cc_assets.constant_contact.errors import UnexpectedResponseError


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


def obj(value: Any, endpoint: str, field: str = "body") -> dict[str, Any]:
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise UnexpectedResponseError(
            endpoint, 200, field, f"expected an object, got {_kind(value)}"
        )
    return value


def objects(value: Any, endpoint: str, field: str) -> list[dict[str, Any]]:
    """`value` as a list of JSON objects."""
    if not isinstance(value, list):
        raise UnexpectedResponseError(endpoint, 200, field, f"expected a list, got {_kind(value)}")
    for index, item in enumerate(value):
        obj(item, endpoint, f"{field}[{index}]")
    return value


def member_objects(
    body: dict[str, Any], key: str, endpoint: str, *, required: bool = True
) -> list[dict[str, Any]]:
    """`body[key]` as a list of objects; an absent optional key is an empty list (CC omits
    some empty arrays), an absent required key is an error."""
    if key not in body:
        if required:
            raise UnexpectedResponseError(endpoint, 200, key, "missing")
        return []
    return objects(body[key], endpoint, key)


def text(item: dict[str, Any], key: str, endpoint: str, where: str) -> str:
    """`item[key]` as a non-empty string."""
    value = item.get(key)
    if not isinstance(value, str) or not value:
        got = "missing" if key not in item else f"expected a non-empty string, got {_kind(value)}"
        raise UnexpectedResponseError(endpoint, 200, f"{where}.{key}", got)
    return value


def optional_text(item: dict[str, Any], key: str, endpoint: str, where: str) -> str | None:
    """`item[key]` as a string, or None when absent or null."""
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise UnexpectedResponseError(
            endpoint, 200, f"{where}.{key}", f"expected a string, got {_kind(value)}"
        )
    return value
