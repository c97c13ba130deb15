"""The address a request came from, as the proxies the portal trusts saw it.

Behind a load balancer every request's REMOTE_ADDR is the balancer's: counting failed sign-ins
by it would let anyone's failures lock out everyone. Each trusted proxy adds the address it
received the request from to the right of X-Forwarded-For, so with `TRUSTED_PROXY_COUNT` = N
the client is the N-th address from the right; whatever stands to its left was written by the
client and is ignored. With N = 0 the header is not read at all.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware.ip import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    """The client's address (axes' AXES_CLIENT_IP_CALLABLE); REMOTE_ADDR when the request did
    not come through every trusted proxy (too few addresses in the header, or none)."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies == 0:
        return remote
    # ipware counts the proxies named in the header; the one nearest the portal is REMOTE_ADDR,
    # not in the header. Not strict: a client's own X-Forwarded-For (a corporate proxy's, or a
    # forged one) only adds addresses on the left, which are skipped.
    address, _routable = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=proxies - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return address or remote
