"""`expenses_api_for`: the one place that decides which expenses API generation a company
speaks, over a client that logs every exchange against the company."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from codat import CodatClient, V1ExpensesApi
from gateway.apis import GENERATIONS, expenses_api_for
from gateway.exchanges import codat_client
from gateway.models import CodatExchange
from sandbox.models import SandboxSettings
from tests.factories import CompanyFactory


class _RecordingApi:
    def __init__(self, client: CodatClient) -> None:
        self.client = client


def test_a_company_speaks_the_configured_generation(settings, monkeypatch):
    monkeypatch.setitem(GENERATIONS, "test", _RecordingApi)
    settings.CODAT_EXPENSES_API_DEFAULT = "test"

    api = expenses_api_for(SimpleNamespace(pk=7))

    assert isinstance(api, _RecordingApi)
    assert isinstance(api.client, CodatClient)


def test_v1_is_the_default_generation():
    assert isinstance(expenses_api_for(SimpleNamespace(pk=7)), V1ExpensesApi)


def test_an_unknown_generation_is_refused_naming_the_setting_and_the_known_ones(settings):
    settings.CODAT_EXPENSES_API_DEFAULT = "v9"

    with pytest.raises(ImproperlyConfigured) as refused:
        expenses_api_for(SimpleNamespace(pk=7))

    assert str(refused.value) == "CODAT_EXPENSES_API_DEFAULT is 'v9': set it to one of v1."


@pytest.mark.django_db(transaction=True)
def test_the_api_logs_its_exchanges_against_the_company(live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(pk=1, defaults={"sync_delay_ms": 0})
    codat_company = codat_client().create_company("Harbour Coffee Ltd")
    company = CompanyFactory()

    api = expenses_api_for(company)
    lost = api.find_lost_submission(codat_company.id, [str(uuid.uuid4())], since=timezone.now())

    assert lost is None
    assert list(CodatExchange.objects.filter(company=company).values_list("method", "path")) == [
        ("GET", f"/companies/{codat_company.id}/sync/expenses/syncs/list/status")
    ]
