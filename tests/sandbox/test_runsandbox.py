"""`runsandbox`: the sandbox alone, with its pump doing the work a Celery worker would."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import resolve
from django.utils import timezone

from sandbox.management.commands.runsandbox import pump_once
from sandbox.models import SandboxSettings, SandboxSync, SandboxWebhookDelivery
from tests.sandbox.conftest import Api, link_company, payment, push


def test_the_pump_runs_due_syncs_and_webhook_deliveries(api: Api) -> None:
    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    sync_id = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    assert pump_once() == (0, 0)

    SandboxSync.objects.filter(pk=sync_id).update(due_at=timezone.now() - timedelta(seconds=1))
    syncs, hooks = pump_once()

    assert (syncs, hooks) == (1, 1)
    assert SandboxSync.objects.get(pk=sync_id).status_code == 2000
    assert SandboxWebhookDelivery.objects.get().attempts == 1


def test_the_standalone_urls_keep_the_same_base_path() -> None:
    match = resolve("/codat-sandbox/companies", urlconf="sandbox.standalone_urls")
    assert match.view_name == "sandbox:companies"


def test_runsandbox_refuses_a_bad_address() -> None:
    with pytest.raises(CommandError):
        call_command("runsandbox", "localhost:http")


def test_the_process_control_runs_what_is_due(api: Api) -> None:
    linked = link_company(api, "qhyg")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    sync_id = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    assert api.post("/_sandbox/process").json() == {"syncs": 0, "webhooks": 0}

    SandboxSync.objects.filter(pk=sync_id).update(due_at=timezone.now())

    assert api.post("/_sandbox/process").json() == {"syncs": 1, "webhooks": 1}
