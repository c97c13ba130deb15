"""Adding the generation each company speaks keeps every existing company on v1, whatever the
deployment's default for new companies says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from companies.models import Company
from tests.factories import CompanyFactory

# Migrating commits (and SQLite changes its schema only outside a transaction).
pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("companies", "0007_support_groups")]


def _migrate(targets: list[tuple[str, str]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.fixture
def before_generations() -> Iterator[None]:
    _migrate(BEFORE)
    try:
        yield
    finally:
        _migrate()


def test_existing_companies_speak_v1_and_new_ones_the_default(before_generations, settings):
    settings.CODAT_EXPENSES_API_DEFAULT = "expenses"
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    existing = old.get_model("companies", "Company").objects.create(name="Before", platform="gbol")

    _migrate()

    assert Company.objects.get(pk=existing.pk).expenses_api == "v1"
    assert CompanyFactory().expenses_api == "expenses"
