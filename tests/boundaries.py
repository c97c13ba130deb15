"""What the modules of a folder import, for the tests that hold the apps' boundaries."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def top_level_imports(folder: Path) -> set[tuple[str, str]]:
    """(file, top-level package) for every absolute import of every module below `folder`,
    at module level or inside a function alike."""
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
