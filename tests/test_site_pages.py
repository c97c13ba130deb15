"""Pages of the site as a whole: the server error page and the site's icon."""

from __future__ import annotations

import pytest
from django.contrib.auth.decorators import login_not_required
from django.test import Client, RequestFactory
from django.urls import get_resolver, path, reverse


@login_not_required
def _broken(request):
    raise RuntimeError("a bug")


# Only this page: the error page must not need any other URL to exist.
urlpatterns = [path("broken/", _broken)]


# No django_db mark on these two: a query would fail them.
@pytest.mark.urls(__name__)
def test_an_unhandled_error_shows_the_sites_own_500_page_without_the_database():
    client = Client(raise_request_exception=False)

    response = client.get("/broken/")

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body
    assert 'href="/static/css/app.css"' in body
    assert "Server Error (500)" not in body


def test_handler500_renders_the_page_on_its_own():
    handler = get_resolver().resolve_error_handler(500)

    response = handler(RequestFactory().get("/"))

    assert response.status_code == 500
    assert "Back to your companies" in response.content.decode()


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_icon_without_signing_in(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"].startswith("/static/favicon")
    assert response["Location"].endswith(".ico")
    assert "max-age=86400" in response["Cache-Control"]
    assert client.head("/favicon.ico").status_code == 302


@pytest.mark.django_db
def test_every_page_names_its_icon(client):
    page = client.get(reverse("login")).content.decode()

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert '<link rel="icon" href="/static/favicon.ico" sizes="32x32">' in page


def test_the_icon_files_are_among_the_static_files():
    from pathlib import Path

    from django.contrib.staticfiles import finders

    ico = finders.find("favicon.ico")
    svg = finders.find("favicon.svg")

    assert ico is not None
    assert Path(ico).read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert svg is not None
    assert "<svg" in Path(svg).read_text(encoding="utf-8")
