"""No page shows template syntax to a person.

Every page of the URLconf is opened by each visitor who may see it (anonymous for the public
pages, a viewer and an approver of the company, a superuser for staff pages and the admin), and
its visible text — what a browser draws, not the markup — must hold no `{#`, `#}`, `{%`, `%}`,
`{{` or `}}`: a comment that spans lines in `{# #}`, or a tag left unclosed, shows up there.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.security.test_url_access import (
    PUBLIC,
    ROUTES,
    World,
    _matches,
    _sample_url,
    _signed_in,
    world,  # noqa: F401  (the fixture, used by name)
)

pytestmark = pytest.mark.django_db

RAW_SYNTAX = ("{#", "#}", "{%", "%}", "{{", "}}")


class _VisibleText(HTMLParser):
    """The text a browser draws: text nodes outside script, style and template elements, plus
    the attributes people read (title, alt, placeholder, aria-label, a button's value)."""

    HIDDEN = {"script", "style", "template"}
    READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        for name, value in attrs:
            if value and (name in self.READ_ATTRIBUTES or (tag == "input" and name == "value")):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def _raw_syntax_on(client: Client, url: str) -> list[str]:
    response = client.get(url)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    text = visible_text(response.content.decode())
    return [
        f"{url}: {token!r} near {_around(text, token)!r}" for token in RAW_SYNTAX if token in text
    ]


def _around(text: str, token: str) -> str:
    at = text.index(token)
    return " ".join(text[max(0, at - 40) : at + 60].split())


def test_the_visible_text_finder_sees_what_a_browser_draws():
    html = (
        '<p title="{{ t }}">Hello {# left #}</p><script>if (a{%b) {}</script>'
        "<style>a{}</style><input value='{%'>"
    )
    text = visible_text(html)
    for token in ("{#", "{{", "{%"):
        assert token in text
    assert "a{%b" not in text


def test_no_page_shows_template_syntax_to_anyone_who_may_see_it(world: World):  # noqa: F811
    visitors = {
        "anonymous": Client(),
        "viewer": _signed_in(world.viewer),
        "approver": _signed_in(world.approver),
        "staff": _signed_in(world.staff),
    }
    for client in visitors.values():
        client.raise_request_exception = False
    problems: list[str] = []
    opened = 0
    for route in ROUTES:
        url = _sample_url(world, route)
        for who, client in visitors.items():
            if who == "anonymous" and not _matches(route, PUBLIC):
                continue
            found = _raw_syntax_on(client, url)
            opened += 1
            problems += [f"{who} {route.label} {p}" for p in found]

    assert opened > 150
    assert problems == []
