"""`python -m bench [name …]`: run every benchmark module (or the named ones) and print a table
of the figures. A name is a module (`queue`) or a figure it measures (`queue_page_ms_p50`)."""

from __future__ import annotations

import importlib
import pkgutil
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
    for benchmark in _selected(argv):
        figures.update(benchmark.run())
    width = max((len(name) for name in figures), default=0)
    print()
    for name, value in sorted(figures.items()):
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
