"""Push every approved expense now, of one company or all, and optionally follow the syncs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from companies.models import Company
from syncs.push_now import company_push_now
from syncs.tasks import push_company


class Command(BaseCommand):
    help = (
        "Push every approved expense (of one company or all). With --wait, run the push here, "
        "riding out Codat's transient failures as the worker does, follow each sync to its end "
        "and print one line per company; exit non-zero when a company could not be pushed."
    )

    def __init__(
        self,
        *args: Any,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # What --wait measures and spends its waits with (tests pass ones that never wait).
        self.clock = clock
        self.sleep = sleep

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="a company id or name (default: every company)")
        parser.add_argument(
            "--wait", action="store_true", help="push here and wait for the syncs to end"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        not_pushed = []
        for company in self._companies(options.get("company")):
            if not options["wait"]:
                push_company.delay(company.pk)
                self.stdout.write(f"{company.name}: push queued for the worker.")
                continue
            report = company_push_now(company=company, clock=self.clock, sleep=self.sleep)
            self.stdout.write(report.line())
            if not report.complete:
                not_pushed.append(company.name)
        if not_pushed:
            raise CommandError(
                f"Not everything could be pushed for: {', '.join(not_pushed)} (see above)."
            )

    def _companies(self, wanted: str | None) -> list[Company]:
        qs = Company.objects.exclude(status="archived").order_by("name")
        if wanted:
            match = Q(name__iexact=wanted)
            if wanted.isdigit():
                match |= Q(pk=int(wanted))
            qs = qs.filter(match)
            if not qs.exists():
                raise CommandError(f"No company has the id or name '{wanted}'.")
        return list(qs)
