"""Moving the exchange log and the call slots from `syncs` to `gateway` keeps what support was
granted: the models' content types move with their permissions, both ways, so the support
groups (made when the models were syncs') still view the exchange log and the call slots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Migrating commits (and SQLite changes its schema only outside a transaction).
pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = [("gateway", None)]


def _migrate(targets: list[tuple[str, str | None]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


@pytest.fixture
def before_the_move() -> Iterator[None]:
    _migrate(BEFORE_THE_MOVE)
    try:
        yield
    finally:
        _migrate()


def _granted(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
        if "codat" in p.codename
    }


def _support_viewing_exchanges_as_syncs_models() -> Group:
    group, _ = Group.objects.get_or_create(name="Support")
    for model in ("codatexchange", "codatcallslot"):
        content_type, _ = ContentType.objects.get_or_create(app_label="syncs", model=model)
        view, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=f"view_{model}", defaults={"name": f"view {model}"}
        )
        group.permissions.add(view)
    return group


def test_the_support_groups_keep_viewing_the_moved_models(before_the_move):
    group = _support_viewing_exchanges_as_syncs_models()

    _migrate()

    assert _granted(group) == {"gateway.view_codatexchange", "gateway.view_codatcallslot"}
    assert not ContentType.objects.filter(app_label="syncs", model="codatexchange").exists()

    _migrate(BEFORE_THE_MOVE)

    assert _granted(group) == {"syncs.view_codatexchange", "syncs.view_codatcallslot"}
    assert not ContentType.objects.filter(app_label="gateway", model="codatexchange").exists()


def test_a_content_type_already_made_for_gateway_takes_the_grants_over(before_the_move):
    """A `migrate` stopped between the apps' migrations leaves Django to make the gateway's
    content types and permissions fresh: the grants move to those, and nothing is left twice."""
    group = _support_viewing_exchanges_as_syncs_models()
    made = ContentType.objects.create(app_label="gateway", model="codatexchange")
    Permission.objects.create(content_type=made, codename="view_codatexchange", name="view")

    _migrate()

    assert _granted(group) == {"gateway.view_codatexchange", "gateway.view_codatcallslot"}
    assert Permission.objects.filter(codename="view_codatexchange").count() == 1
    assert not ContentType.objects.filter(app_label="syncs", model="codatexchange").exists()
