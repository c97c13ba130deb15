"""Support can look at the sandbox's state in the admin."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from sandbox.models import SandboxCompany, SandboxSync
from tests.sandbox.conftest import Api, finish, link_company, payment, push


@pytest.mark.parametrize(
    "model",
    [
        "sandboxcompany",
        "sandboxconnection",
        "sandboxdataset",
        "sandboxsync",
        "sandboxledgerrecord",
        "sandboxwebhookdelivery",
        "sandboxsettings",
    ],
)
def test_every_sandbox_changelist_renders(api: Api, admin_client: Any, model: str) -> None:
    linked = link_company(api, "gbol")
    finish(api, linked, push(api, linked, [payment(linked, str(uuid.uuid4()))]))
    response = admin_client.get(reverse(f"admin:sandbox_{model}_changelist"))
    assert response.status_code == 200


def test_a_sync_page_lists_its_transactions(api: Api, admin_client: Any) -> None:
    linked = link_company(api, "gbol")
    tx_id = str(uuid.uuid4())
    sync_id = push(api, linked, [payment(linked, tx_id)])
    finish(api, linked, sync_id)
    sync = SandboxSync.objects.get(pk=sync_id)

    page = admin_client.get(reverse("admin:sandbox_sandboxsync_change", args=[sync.pk]))
    company = admin_client.get(
        reverse("admin:sandbox_sandboxcompany_change", args=[SandboxCompany.objects.get().pk])
    )

    assert tx_id in page.content.decode()
    assert "Xero" in company.content.decode()
