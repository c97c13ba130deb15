"""`python -m bench`: run every benchmark module and print a table of the figures."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any


def main() -> None:
    figures: dict[str, Any] = {}
    folder = Path(__file__).resolve().parent
    for module in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        benchmark = importlib.import_module(f"bench.{module.name}")
        if hasattr(benchmark, "run"):
            figures.update(benchmark.run())
    width = max((len(name) for name in figures), default=0)
    print()
    for name, value in sorted(figures.items()):
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
