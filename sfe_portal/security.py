"""The Content-Security-Policy header (Django 5.2 has none of its own).

Scripts and styles come only from our own static files: no inline `<script>`, no `on…=`
attributes, no `eval` (htmx runs with `allowEval=false`, see `templates/base.html`). Receipt
previews may load from the receipt bucket's origin when receipts live on S3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def csp_header(directives: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(
        " ".join([name, *sources]) if sources else name for name, sources in directives.items()
    )


class ContentSecurityPolicyMiddleware:
    """Adds the policy of `settings.CONTENT_SECURITY_POLICY` to every response that has none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = csp_header(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.header
        return response
