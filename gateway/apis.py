"""Which generation of Codat's expenses API a company speaks: decided here and nowhere else.

The pipeline asks `expenses_api_for(company)` and talks to whatever `ExpensesApi` it gets: the
generation the company speaks (`Company.expenses_api`, `CODAT_EXPENSES_API_DEFAULT` for a new
company), or the one a sync or batch was written through, passed as `generation`, so a row is
always carried on by the API that wrote it, whatever the company speaks since.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from codat import CodatClient, ExpensesApi, ExpensesApiV2, V1ExpensesApi
from gateway.exchanges import codat_client


class Generation(Protocol):
    """An `ExpensesApi` implementation: built over a client, and known before it is built to
    start a sync per batch (one call writes it) or one sync for a push's datasets."""

    @property
    def one_sync_per_batch(self) -> bool: ...

    def __call__(self, client: CodatClient) -> ExpensesApi: ...


# Keyed by the values of `companies.platforms.ApiGeneration` (the gateway imports no app).
GENERATIONS: dict[str, Generation] = {"v1": V1ExpensesApi, "expenses": ExpensesApiV2}


class CompanyRef(Protocol):
    """What the gateway needs of a company: the portal's id and the generation it speaks (the
    gateway imports no app)."""

    @property
    def pk(self) -> int: ...

    @property
    def expenses_api(self) -> str: ...


def expenses_api_generation() -> str:
    """The configured generation for new companies, refused with the values that would do when
    unknown."""
    generation: str = settings.CODAT_EXPENSES_API_DEFAULT
    if generation not in GENERATIONS:
        known = ", ".join(sorted(GENERATIONS))
        raise ImproperlyConfigured(
            f"CODAT_EXPENSES_API_DEFAULT is {generation!r}: set it to one of {known}."
        )
    return generation


def _generation(company: CompanyRef, generation: str | None) -> Generation:
    name = generation or company.expenses_api
    try:
        return GENERATIONS[name]
    except KeyError:
        raise ValueError(f"no expenses API generation is called {name!r}") from None


def expenses_api_for(
    company: CompanyRef, client: CodatClient | None = None, generation: str | None = None
) -> ExpensesApi:
    """The expenses API of `generation` (a sync's or batch's stamp), else the one `company`
    speaks, over `client` (a thread's own, say) or a client that logs against the company."""
    return _generation(company, generation)(client or codat_client(company_id=company.pk))


def one_sync_per_batch(company: CompanyRef, generation: str | None = None) -> bool:
    """Whether each batch sent through `generation`, else the company's, starts a sync of its
    own (see `ExpensesApi`)."""
    return _generation(company, generation).one_sync_per_batch
