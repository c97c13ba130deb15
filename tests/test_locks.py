"""The hashed locks `make lock` writes from pyproject.toml: requirements.lock holds production's
dependencies, requirements-dev.lock those plus the `dev` extra. A pin changed in pyproject.toml
without `make lock`, a lock line without a hash, or the two locks disagreeing fails here."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PRODUCTION = [Requirement(line) for line in PROJECT["dependencies"]]
DEV = [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]
PIN = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)\s*(?:;(?P<marker>.*))?"
)
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
FIX = "run `make lock` and commit both lock files"


@dataclass(frozen=True)
class Pin:
    version: str
    marker: Marker | None
    hashes: int


def entries(text: str) -> list[str]:
    """The lock's requirement entries, each with its continuation lines joined, comments out."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #", 1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def read_lock(path: Path) -> dict[str, Pin]:
    name = path.name
    pins: dict[str, Pin] = {}
    for entry in entries(path.read_text()):
        requirement, *hashes = re.split(r"\s+(?=--hash=)", entry)
        match = PIN.fullmatch(requirement.strip())
        assert match, f"{name}: {entry!r} is not an exact `name==version` pin; {FIX}"
        assert hashes, f"{name}: {match['name']} has no sha256 hash; {FIX}"
        assert all(HASH.fullmatch(h.strip()) for h in hashes), (
            f"{name}: {match['name']} has a hash that is not sha256; {FIX}"
        )
        key = canonicalize_name(match["name"])
        assert key not in pins, f"{name}: {match['name']} is pinned twice; {FIX}"
        marker = Marker(match["marker"]) if match["marker"] else None
        pins[key] = Pin(match["version"], marker, len(hashes))
    return pins


LOCKS = {"requirements.lock": PRODUCTION, "requirements-dev.lock": PRODUCTION + DEV}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_dependency_of_pyproject_is_pinned_in_the_lock_as_pyproject_says(lock):
    pins = read_lock(ROOT / lock)

    for requirement in LOCKS[lock]:
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin, f"{lock} lacks {requirement.name} of pyproject.toml; {FIX}"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{lock} pins {requirement.name}=={pin.version}, pyproject.toml asks for "
            f"{requirement}; {FIX}"
        )


@pytest.mark.parametrize("python", ["3.11.0", "3.12.0", "3.13.0"])
@pytest.mark.parametrize("lock", LOCKS)
def test_every_supported_python_gets_each_dependency_of_pyproject(lock, python):
    """A lock resolved for one interpreter only would leave the others without some pins, or
    would carry markers that switch a direct dependency off on them."""
    pins = read_lock(ROOT / lock)
    environment = {"python_version": python.rsplit(".", 1)[0], "python_full_version": python}

    for requirement in LOCKS[lock]:
        pin = pins.get(canonicalize_name(requirement.name))  # a missing one fails the test above
        marker = pin.marker if pin else None
        assert marker is None or marker.evaluate(environment), (
            f"{lock} installs {requirement.name} only where {marker}, not on Python {python}; {FIX}"
        )


def test_the_locks_agree_on_every_pin_they_share():
    production = read_lock(ROOT / "requirements.lock")
    development = read_lock(ROOT / "requirements-dev.lock")

    assert production.keys() <= development.keys(), (
        f"requirements-dev.lock lacks {sorted(production.keys() - development.keys())}; {FIX}"
    )
    differ = {
        name: (pin.version, development[name].version)
        for name, pin in production.items()
        if development[name].version != pin.version
    }
    assert not differ, f"production and development pins differ {differ}; {FIX}"


def test_the_production_lock_carries_none_of_the_dev_tools():
    production = read_lock(ROOT / "requirements.lock")

    shipped = sorted(r.name for r in DEV if canonicalize_name(r.name) in production)

    assert not shipped, f"requirements.lock holds dev tools {shipped}; {FIX}"


def test_a_lock_line_without_a_hash_or_an_exact_pin_is_refused(tmp_path):
    digest = "0" * 64
    (tmp_path / "unhashed.lock").write_text("django==5.2.20\n    # via sfe-portal\n")
    (tmp_path / "ranged.lock").write_text(f"django>=5.2 \\\n    --hash=sha256:{digest}\n")
    (tmp_path / "good.lock").write_text(
        f"# header\ndjango==5.2.20 ; python_full_version < '3.14' \\\n"
        f"    --hash=sha256:{digest} \\\n    --hash=sha256:{'1' * 64}\n    # via x\n"
    )

    with pytest.raises(AssertionError, match="django has no sha256 hash"):
        read_lock(tmp_path / "unhashed.lock")
    with pytest.raises(AssertionError, match="not an exact `name==version` pin"):
        read_lock(tmp_path / "ranged.lock")
    assert read_lock(tmp_path / "good.lock") == {
        "django": Pin("5.2.20", Marker("python_full_version < '3.14'"), 2)
    }
