"""Every status change goes through the declared transitions: no `update(state=…)` or
`update(status=…)` outside the transition helpers, single rows and bulk alike."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The portal's apps; the sandbox emulates Codat's own state and keeps its own rules.
APPS = [
    "accounts",
    "codat",
    "companies",
    "demo",
    "expenses",
    "gateway",
    "syncs",
    "notices",
    "sfe_portal",
]
STATE_FIELDS = {"state", "status"}
# The helpers that apply the declared transitions.
HELPERS = {Path("sfe_portal/transitions.py")}


def raw_state_writes(source: str) -> list[int]:
    """Lines of `….update(state=…)` / `….update(status=…)` calls in `source`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "update"
        and any(keyword.arg in STATE_FIELDS for keyword in node.keywords)
    ]


def test_the_check_finds_a_raw_state_write():
    assert raw_state_writes("Sync.objects.filter(pk=1).update(state='failed')\n") == [1]
    assert raw_state_writes("x.update(\n    status='synced', at=now)\n") == [1]
    assert raw_state_writes("d.update(extra)\nrows.update(attempts=2)\n") == []


def test_no_state_is_written_outside_the_transition_helpers():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or relative in HELPERS:
                continue
            found += [f"{relative}:{line}" for line in raw_state_writes(path.read_text())]
    assert found == [], (
        "state written without its transitions (use sfe_portal.transitions.transition_update "
        "or the app's *_transition service): " + ", ".join(found)
    )
