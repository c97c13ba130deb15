"""Move a company to the other generation of Codat's expenses API, or say why not."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company, SwitchChannel
from companies.platforms import ApiGeneration
from syncs.cutover import expenses_api_switch


class Command(BaseCommand):
    help = (
        "Move a company to the other generation of Codat's expenses API (v1 or expenses) once "
        "nothing of it is in flight: its approved and failed expenses are checked under the new "
        "generation's rules (what it refuses goes back to coding, with the reason), the mapping "
        "options are read again, and who and when are recorded. Exits 1, saying what is in "
        "flight and what to do, when it cannot move the company now; --dry-run says what would "
        "happen and changes nothing."
    )

    def __init__(
        self, *args: Any, clock: Callable[[], datetime] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # What day it is for the v1 shutdown (tests pass a clock of their own).
        self.clock = clock

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company",
            required=True,
            help="the company: its portal id, its Codat company id or its name",
        )
        parser.add_argument(
            "--to",
            required=True,
            choices=ApiGeneration.values,
            help="the generation to move it to: v1, or expenses (the newer Expenses API)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would happen; change nothing"
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="the account recorded as having moved it (default: none, recorded as the command)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company = _company(options["company"])
        user = _user(options["by"]) if options["by"] else None
        report = expenses_api_switch(
            company,
            options["to"],
            by_user=user,
            dry_run=options["dry_run"],
            clock=self.clock,
            via=SwitchChannel.COMMAND,
        )
        if report.refused:
            raise CommandError("\n".join(report.lines()))
        for line in report.lines():
            self.stdout.write(line)


def _company(wanted: str) -> Company:
    """The company `wanted` names: a portal id, a Codat company id, or a name (any case)."""
    text = wanted.strip()
    found: list[Company] = []
    if text.isdigit():
        found = list(Company.objects.filter(pk=int(text)))
    if not found:
        try:
            codat_id = uuid.UUID(text)
        except ValueError:
            found = list(Company.objects.filter(name__iexact=text).order_by("pk"))
        else:
            found = list(Company.objects.filter(codat_company_id=codat_id))
    if not found:
        raise CommandError(
            f"--company: no company has the portal id, Codat company id or name '{text}'. "
            "The company list and the admin show each company's id."
        )
    if len(found) > 1:
        ids = ", ".join(str(company.pk) for company in found)
        raise CommandError(
            f"--company: {len(found)} companies are called '{text}' (portal ids {ids}): give "
            "the portal id of the one to move."
        )
    return found[0]


def _user(username: str) -> User:
    user = get_user_model().objects.filter(username=username).first()
    if not isinstance(user, User):
        raise CommandError(
            f"--by: no account has the username '{username}'. Give the username of the person "
            "moving the company, or leave --by out."
        )
    return user
