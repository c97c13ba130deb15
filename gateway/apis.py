"""Which generation of Codat's expenses API a company speaks: decided here and nowhere else.

The pipeline asks `expenses_api_for(company)` and talks to whatever `ExpensesApi` it gets. Every
company speaks `CODAT_EXPENSES_API_DEFAULT` for now; a generation is added by registering its
implementation in `GENERATIONS`.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from codat import CodatClient, ExpensesApi, V1ExpensesApi
from gateway.exchanges import codat_client


class Generation(Protocol):
    """An `ExpensesApi` implementation: built over a client, and known before it is built to
    start a sync per batch (one call writes it) or one sync for a push's datasets."""

    @property
    def one_sync_per_batch(self) -> bool: ...

    def __call__(self, client: CodatClient) -> ExpensesApi: ...


GENERATIONS: dict[str, Generation] = {"v1": V1ExpensesApi}


class CompanyRef(Protocol):
    """What the gateway needs of a company: the portal's id (the gateway imports no app)."""

    @property
    def pk(self) -> int: ...


def expenses_api_generation() -> str:
    """The configured generation, refused with the values that would do when unknown."""
    generation: str = settings.CODAT_EXPENSES_API_DEFAULT
    if generation not in GENERATIONS:
        known = ", ".join(sorted(GENERATIONS))
        raise ImproperlyConfigured(
            f"CODAT_EXPENSES_API_DEFAULT is {generation!r}: set it to one of {known}."
        )
    return generation


def expenses_api_for(company: CompanyRef, client: CodatClient | None = None) -> ExpensesApi:
    """The expenses API `company` speaks, over `client` (a thread's own, say) or a client
    that logs against the company."""
    return GENERATIONS[expenses_api_generation()](client or codat_client(company_id=company.pk))


def one_sync_per_batch(company: CompanyRef) -> bool:
    """Whether each batch `company` sends starts a sync of its own (see `ExpensesApi`)."""
    return GENERATIONS[expenses_api_generation()].one_sync_per_batch
