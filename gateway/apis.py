"""Which generation of Codat's expenses API a company speaks: decided here and nowhere else.

The pipeline asks `expenses_api_for(company)` and talks to whatever `ExpensesApi` it gets. Every
company speaks `CODAT_EXPENSES_API_DEFAULT` for now; a generation is added by registering its
implementation in `GENERATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from codat import CodatClient, ExpensesApi, V1ExpensesApi
from gateway.exchanges import codat_client

GENERATIONS: dict[str, Callable[[CodatClient], ExpensesApi]] = {"v1": V1ExpensesApi}


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


def expenses_api_for(company: CompanyRef) -> ExpensesApi:
    """The expenses API `company` speaks, over a client that logs against the company."""
    return GENERATIONS[expenses_api_generation()](codat_client(company_id=company.pk))
