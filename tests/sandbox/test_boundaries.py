"""The sandbox and the portal apps never import each other: they meet only over HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PORTAL_APPS = ("companies", "expenses", "syncs", "codat")


def _imports(folder: Path) -> set[tuple[str, str]]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            found.update((str(path.relative_to(REPO)), name.split(".")[0]) for name in names)
    return found


def test_the_sandbox_imports_no_portal_app() -> None:
    bad = {(path, name) for path, name in _imports(REPO / "sandbox") if name in PORTAL_APPS}
    assert bad == set()


@pytest.mark.parametrize("app", PORTAL_APPS)
def test_no_portal_app_imports_the_sandbox(app: str) -> None:
    bad = {(path, name) for path, name in _imports(REPO / app) if name == "sandbox"}
    assert bad == set()
