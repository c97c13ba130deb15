"""`expenses_api_for`: the one place that decides which expenses API generation a company
speaks, over a client that logs every exchange against the company."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from codat import CodatClient, ExpensesApiV2, V1ExpensesApi
from companies.models import Company
from companies.platforms import ApiGeneration
from gateway.apis import (
    GENERATIONS,
    expenses_api_for,
    expenses_api_generation,
    one_sync_per_batch,
)
from gateway.exchanges import codat_client
from gateway.models import CodatExchange
from sandbox.models import SandboxSettings
from tests.factories import CompanyFactory


class _RecordingApi:
    one_sync_per_batch = True

    def __init__(self, client: CodatClient) -> None:
        self.client = client


def _company(expenses_api: str = "v1") -> SimpleNamespace:
    return SimpleNamespace(pk=7, expenses_api=expenses_api)


def test_a_company_speaks_its_own_generation(monkeypatch):
    monkeypatch.setitem(GENERATIONS, "expenses", _RecordingApi)

    api = expenses_api_for(_company("expenses"))

    assert isinstance(api, _RecordingApi)
    assert isinstance(api.client, CodatClient)
    assert one_sync_per_batch(_company("expenses"))


def test_the_generations_are_v1_and_the_newer_expenses_api():
    assert isinstance(expenses_api_for(_company("v1")), V1ExpensesApi)
    assert isinstance(expenses_api_for(_company("expenses")), ExpensesApiV2)
    assert not one_sync_per_batch(_company("v1"))
    assert one_sync_per_batch(_company("expenses"))


def test_the_gateway_knows_every_generation_a_company_may_speak():
    assert set(GENERATIONS) == set(ApiGeneration.values)


def test_a_rows_generation_wins_over_the_one_the_company_speaks_now():
    company = _company("expenses")

    assert isinstance(expenses_api_for(company, generation="v1"), V1ExpensesApi)
    assert not one_sync_per_batch(company, generation="v1")


def test_an_unknown_generation_is_refused():
    with pytest.raises(ValueError, match="no expenses API generation is called 'v9'"):
        expenses_api_for(_company("v9"))


def test_an_unknown_default_generation_is_refused_naming_the_setting_and_the_known_ones(settings):
    settings.CODAT_EXPENSES_API_DEFAULT = "v9"

    with pytest.raises(ImproperlyConfigured) as refused:
        expenses_api_generation()

    assert str(refused.value) == (
        "CODAT_EXPENSES_API_DEFAULT is 'v9': set it to one of expenses, v1."
    )


@pytest.mark.django_db
def test_a_new_company_speaks_the_configured_default(settings):
    assert CompanyFactory().expenses_api == "v1"

    settings.CODAT_EXPENSES_API_DEFAULT = "expenses"

    assert CompanyFactory().expenses_api == "expenses"


@pytest.mark.django_db
def test_the_database_refuses_a_generation_it_does_not_know():
    company = CompanyFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Company.objects.filter(pk=company.pk).update(expenses_api="v9")


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
