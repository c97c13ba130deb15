"""The client stays plain Python: importing it loads neither Django nor the portal's apps."""

from __future__ import annotations

import subprocess
import sys

from tests.codat.conformance import REPO_ROOT


def test_importing_codat_loads_no_django_and_no_app():
    code = (
        "import sys, codat, codat.webhooks, codat.expenses_api\n"
        "apps = ('django', 'gateway', 'companies', 'expenses', 'syncs', 'sandbox', 'sfe_portal')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in apps)\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
