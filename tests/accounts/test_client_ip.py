"""The client's address behind the trusted proxies: the N-th from the right of X-Forwarded-For,
never what the client wrote to its left, and REMOTE_ADDR when no proxy is trusted."""

import pytest
from django.test import RequestFactory

from accounts.client_ip import client_ip

LB = "10.0.0.2"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, LB),
        (0, "198.51.100.7", LB),  # nobody trusted: the header is the client's own words
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),  # a forged entry on the left
        (1, "not-an-address, 198.51.100.7", "198.51.100.7"),
        (1, "2001:db8::7", "2001:db8::7"),
        (1, None, LB),  # reached the portal without the proxy
        (1, "", LB),
        (2, "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # CDN, then the load balancer
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "198.51.100.7", LB),  # fewer addresses than proxies: not through all of them
    ],
)
def test_client_ip(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}

    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=LB, **headers)

    assert client_ip(request) == expected
