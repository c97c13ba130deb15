"""Which generation of Codat's expenses API a company speaks."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from codat import CodatClient, ExpensesApi, V1ExpensesApi
from companies.models import Company


class Generation(Protocol):
    """An `ExpensesApi` implementation: built over a client, and known before it is built to
    start a sync per batch or not."""

    @property
    def one_sync_per_batch(self) -> bool: ...

    def __call__(self, client: CodatClient) -> ExpensesApi: ...


GENERATIONS: dict[str, Generation] = {"v1": V1ExpensesApi}


def _generation(company: Company) -> Generation:
    name: str = settings.CODAT_EXPENSES_API_DEFAULT
    if name not in GENERATIONS:
        known = ", ".join(sorted(GENERATIONS))
        raise ImproperlyConfigured(
            f"CODAT_EXPENSES_API_DEFAULT is {name!r}: set it to one of {known}."
        )
    return GENERATIONS[name]


def expenses_api_for(company: Company, client: CodatClient) -> ExpensesApi:
    return _generation(company)(client)


def one_sync_per_batch(company: Company) -> bool:
    return _generation(company).one_sync_per_batch
