"""`python -m bench [name …]`: run every benchmark module (or the named ones) and print a table
of the figures. A name is a module (`queue`) or a figure it measures (`queue_page_ms_p50`).

With more than one module, each runs in a process of its own: a figure must not depend on
which benchmark ran before it (a process that has just seeded a million rows or pushed ten
thousand expenses carries that heap into every later page it times)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def _modules() -> list[ModuleType]:
    folder = Path(__file__).resolve().parent
    found = sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name)
    return [importlib.import_module(f"bench.{m.name}") for m in found if not m.name.startswith("_")]


def _selected(names: list[str]) -> list[ModuleType]:
    modules = [m for m in _modules() if hasattr(m, "run")]
    if not names:
        return modules
    chosen = []
    for name in names:
        match = [
            m
            for m in modules
            if m.__name__.rsplit(".", 1)[1] == name or name in getattr(m, "FIGURES", ())
        ]
        if not match:
            known = sorted(m.__name__.rsplit(".", 1)[1] for m in modules)
            raise SystemExit(f"No benchmark called {name!r}; choose one of: {', '.join(known)}.")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def main(argv: list[str]) -> None:
    from bench._runtime import configure_environment

    configure_environment()
    figures: dict[str, Any] = {}
    chosen = _selected(argv)
    if len(chosen) == 1:
        figures.update(chosen[0].run())
    else:
        from bench._runtime import RESULTS

        for benchmark in chosen:
            name = benchmark.__name__.rsplit(".", 1)[1]
            subprocess.run([sys.executable, "-m", "bench", name], check=True)
        figures = json.loads(RESULTS.read_text())
    width = max((len(name) for name in figures), default=0)
    print()
    for name, value in sorted(figures.items()):
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
