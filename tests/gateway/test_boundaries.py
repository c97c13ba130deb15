"""The gateway sits below the domain apps: it refers to a company by label and id, and imports
none of them, not even inside a function."""

from __future__ import annotations

from tests.boundaries import REPO, top_level_imports

ABOVE = {"companies", "expenses", "syncs", "accounts"}


def test_the_gateway_imports_no_app_above_it() -> None:
    bad = {(path, name) for path, name in top_level_imports(REPO / "gateway") if name in ABOVE}
    assert bad == set()
