"""Codat's paged envelope: `results`, `pageNumber`, `pageSize`, `totalResults`, `_links`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from sandbox.errors import ApiError

MAX_PAGE_SIZE = 5000


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(
            400,
            f"The value '{raw}' is not valid for {name}.",
            validation=[
                {
                    "itemId": name,
                    "message": f"The value '{raw}' is not valid.",
                    "validatorName": None,
                }
            ],
        ) from None


def page_request(request: HttpRequest) -> PageRequest:
    page = _int_param(request, "page", 1)
    page_size = _int_param(request, "pageSize", 100)
    if page < 1:
        raise ApiError(400, "Page must be greater than or equal to 1.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApiError(400, f"PageSize must be between 1 and {MAX_PAGE_SIZE}.")
    return PageRequest(page, page_size)


def envelope(
    request: HttpRequest, base_path: str, items: Sequence[Any], paging: PageRequest
) -> dict[str, Any]:
    """Cut one page out of `items` (already filtered) and wrap it as Codat does: `self` is the
    bare resource, `current` carries the query, `next`/`previous` only where such a page exists."""
    total = len(items)
    start = (paging.page - 1) * paging.page_size
    page_items = list(items[start : start + paging.page_size])

    def href(page: int) -> str:
        params = {k: v for k, v in request.GET.items() if k not in ("page", "pageSize")}
        params.update({"page": str(page), "pageSize": str(paging.page_size)})
        return f"{base_path}?{urlencode(params)}"

    links: dict[str, dict[str, str]] = {
        "self": {"href": base_path},
        "current": {"href": href(paging.page)},
    }
    if start + paging.page_size < total:
        links["next"] = {"href": href(paging.page + 1)}
    if paging.page > 1 and total > 0:
        links["previous"] = {"href": href(paging.page - 1)}
    return {
        "results": page_items,
        "pageNumber": paging.page,
        "pageSize": paging.page_size,
        "totalResults": total,
        "_links": links,
    }
