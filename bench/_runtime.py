"""Django set-up shared by the benchmarks: a throw-away database of the configured engine
(SQLite unless DATABASE_URL says otherwise), created and dropped around each run."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


@contextmanager
def benchmark_database() -> Iterator[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sfe_portal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    with tempfile.TemporaryDirectory() as folder:
        if connection.vendor == "sqlite":
            settings.DATABASES["default"].setdefault("TEST", {})
            settings.DATABASES["default"]["TEST"]["NAME"] = str(Path(folder) / "bench.sqlite3")
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            yield connection.vendor
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def record(figures: dict[str, Any]) -> None:
    """Merge figures into bench/results.json, keeping what other benchmarks wrote."""
    current: dict[str, Any] = {}
    if RESULTS.is_file():
        current = json.loads(RESULTS.read_text())
    current.update(figures)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    tmp.replace(RESULTS)
