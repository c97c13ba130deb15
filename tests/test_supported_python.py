"""The interpreter `make` builds the venv with (scripts/supported-python): the first candidate
that runs a version pyproject.toml's requires-python admits, and a clear refusal otherwise."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "supported-python"


def fake_python(folder: Path, version: str) -> Path:
    """A stand-in that answers every question with its version."""
    path = folder / f"python-{version}"
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def find(*candidates: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "find", *map(str, candidates)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("version", ["3.10.14", "3.11.0", "3.12.9", "3.13.1", "3.14.0"])
def test_a_python_is_taken_exactly_when_requires_python_admits_it(tmp_path, version):
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]

    result = find(fake_python(tmp_path, version))

    assert (result.returncode == 0) == SpecifierSet(requires).contains(version)


def test_the_first_candidate_that_fits_is_taken_and_the_others_are_explained(tmp_path):
    result = find(tmp_path / "python3.13", fake_python(tmp_path, "3.10.14"), sys.executable)

    assert result.returncode == 0
    assert result.stdout.strip() == sys.executable
    assert f"{tmp_path / 'python3.13'}: not found" in result.stderr
    assert "Python 3.10.14, outside 3.11 to 3.13" in result.stderr


def test_no_supported_python_is_a_clear_failure(tmp_path):
    result = find(fake_python(tmp_path, "3.10.14"), tmp_path / "python3.12")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "No supported Python (3.11 to 3.13) among:" in result.stderr


def test_a_venv_of_another_python_is_kept_and_named_rather_than_remade(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    other = fake_python(tmp_path, "3.13.0" if sys.version_info[:2] != (3, 13) else "3.12.0")

    kept = subprocess.run(
        [str(SCRIPT), "venv", str(venv)], capture_output=True, text=True, check=False
    )
    refused = subprocess.run(
        [str(SCRIPT), "venv", str(venv), str(other)], capture_output=True, text=True, check=False
    )

    assert kept.returncode == 0
    assert kept.stdout.startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}.")
    assert refused.returncode == 1
    assert "a venv keeps the Python it was made with" in refused.stderr
    assert sorted(p.name for p in venv.iterdir()) == ["bin"]
