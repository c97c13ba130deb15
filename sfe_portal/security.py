"""The Content-Security-Policy header (Django 5.2 has none of its own).

Scripts and styles come only from our own static files: no inline `<script>`, no `on…=`
attributes, no `eval` (htmx runs with `allowEval=false`, see `templates/base.html`). Receipt
previews may load from the receipt bucket's origin when receipts live on S3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

# The directives a receipt preview goes through: <img>, <object> for PDFs, and frames.
RECEIPT_DIRECTIVES = ("img-src", "object-src", "frame-src")


def csp_header(directives: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(
        " ".join([name, *sources]) if sources else name for name, sources in directives.items()
    )


def storage_origins(storage: Any) -> tuple[str, ...]:
    """The origins a signed URL of this storage points at; none for the file system."""
    bucket = getattr(storage, "bucket_name", None)
    if not bucket:
        return ()
    if getattr(storage, "custom_domain", None):
        return (f"{storage.url_protocol}//{storage.custom_domain}",)
    if getattr(storage, "endpoint_url", None):
        parts = urlsplit(storage.endpoint_url)
        return (f"{parts.scheme}://{parts.netloc}",)
    region = getattr(storage, "region_name", None)
    hosts = [f"{bucket}.s3.amazonaws.com"] + (
        [f"{bucket}.s3.{region}.amazonaws.com"] if region else []
    )
    return tuple(f"https://{host}" for host in hosts)


# The name `report-to` refers to, declared in the `Reporting-Endpoints` header.
REPORT_ENDPOINT = "csp"


@lru_cache(maxsize=8)
def _policy(
    origins: tuple[str, ...],
    frame_ancestors: tuple[str, ...] | None = None,
    report_uri: str = "",
) -> str:
    directives = {
        name: [*sources, *origins] if name in RECEIPT_DIRECTIVES else list(sources)
        for name, sources in settings.CONTENT_SECURITY_POLICY.items()
    }
    if frame_ancestors is not None:
        directives["frame-ancestors"] = list(frame_ancestors)
    if report_uri:
        # report-uri for the browsers that do not know report-to yet (Firefox).
        directives["report-uri"] = [report_uri]
        directives["report-to"] = [REPORT_ENDPOINT]
    return csp_header(directives)


def _set_policy(
    response: HttpResponseBase, origins: tuple[str, ...], frame_ancestors: tuple[str, ...] | None
) -> None:
    report_uri = settings.CSP_REPORT_URI
    response["Content-Security-Policy"] = _policy(origins, frame_ancestors, report_uri)
    if report_uri:
        response["Reporting-Endpoints"] = f'{REPORT_ENDPOINT}="{report_uri}"'


def framed_by_own_pages(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The view's responses may be embedded by the portal's own pages and no one else's:
    `X-Frame-Options: SAMEORIGIN` and `frame-ancestors 'self'` in place of the site's DENY and
    'none'. Browsers apply both to `<object>`, so without this a PDF receipt's preview on the
    expense page was refused and showed only its fallback link."""

    @wraps(view)
    def framed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["X-Frame-Options"] = "SAMEORIGIN"
        _set_policy(response, storage_origins(default_storage), ("'self'",))
        return response

    return framed


class ContentSecurityPolicyMiddleware:
    """Adds the policy of `settings.CONTENT_SECURITY_POLICY` to every response that has none,
    with the receipt bucket's origin where previews load from."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            _set_policy(response, storage_origins(default_storage), None)
        return response
