"""The sandbox and the portal apps never import each other: they meet only over HTTP."""

from __future__ import annotations

import pytest

from tests.boundaries import REPO, top_level_imports

PORTAL_APPS = ("companies", "expenses", "syncs", "gateway", "codat")


def test_the_sandbox_imports_no_portal_app() -> None:
    bad = {
        (path, name) for path, name in top_level_imports(REPO / "sandbox") if name in PORTAL_APPS
    }
    assert bad == set()


@pytest.mark.parametrize("app", PORTAL_APPS)
def test_no_portal_app_imports_the_sandbox(app: str) -> None:
    bad = {(path, name) for path, name in top_level_imports(REPO / app) if name == "sandbox"}
    assert bad == set()
