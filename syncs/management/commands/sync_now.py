"""Push every approved expense now, of one company or all, and optionally follow the syncs."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from codat import CodatError
from companies.models import Company
from expenses.models import ExpenseStatus
from syncs.call_slots import CallSlotsBusy, codat_call_slot
from syncs.follow import sync_poll
from syncs.models import PushBatchItem, ReceiptUpload, Sync, SyncState, UploadState
from syncs.push import InitiationInFlight, PushRefused, company_push_claim, sync_send
from syncs.receipt_uploads import receipt_upload_send
from syncs.tasks import push_company

WAIT_LIMIT_S = 30 * 60
T = TypeVar("T")


def _in_slot(company_id: int, call: Callable[[], T]) -> T:
    """Run one step of Codat calls in one of the company's call slots, waiting for a free one
    while workers hold them all."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while True:
        try:
            with codat_call_slot(company_id, holder="sync_now"):
                return call()
        except CallSlotsBusy as busy:
            if time.monotonic() > deadline:
                raise
            time.sleep(busy.retry_in)


class Command(BaseCommand):
    help = (
        "Push every approved expense (of one company or all). With --wait, run the push here, "
        "follow each sync to its end and print one line per company."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="a company id or name (default: every company)")
        parser.add_argument(
            "--wait", action="store_true", help="push here and wait for the syncs to end"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        companies = self._companies(options.get("company"))
        for company in companies:
            if not options["wait"]:
                push_company.delay(company.pk)
                self.stdout.write(f"{company.name}: push queued for the worker.")
                continue
            self.stdout.write(self._push_and_wait(company))

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

    def _push_and_wait(self, company: Company) -> str:
        try:
            claim = company_push_claim(company=company)
            if claim.sync is None:
                return f"{company.name}: nothing approved to push."
            sync = _in_slot(company.pk, partial(sync_send, sync=claim.sync))
            deadline = time.monotonic() + WAIT_LIMIT_S
            while sync.state == SyncState.IN_PROGRESS and time.monotonic() < deadline:
                time.sleep(1)
                current = Sync.objects.select_related("company").get(pk=sync.pk)
                sync = _in_slot(company.pk, partial(sync_poll, sync=current))
            self._upload_receipts(sync)
        except PushRefused as refused:
            return f"{company.name}: not pushed — {refused}"
        except CallSlotsBusy as busy:
            return f"{company.name}: not pushed — {busy}"
        except InitiationInFlight:
            return f"{company.name}: a worker is starting this push right now; run again shortly."
        except CodatError as error:
            return (
                f"{company.name}: stopped — Codat could not be reached or refused ({error}). "
                "Nothing is lost: run it again, or let the worker resume it."
            )
        return self._summary(company, sync)

    def _upload_receipts(self, sync: Sync) -> None:
        """Send the receipts of the expenses this sync completed, here and now."""
        for upload in ReceiptUpload.objects.filter(sync=sync, state=UploadState.PENDING):
            _in_slot(sync.company_id, partial(receipt_upload_send, upload=upload))

    def _summary(self, company: Company, sync: Sync) -> str:
        items = PushBatchItem.objects.filter(batch__sync=sync)
        pushed = items.count()
        synced = items.filter(expense__status=ExpenseStatus.SYNCED).count()
        failed = items.filter(expense__status=ExpenseStatus.FAILED).count()
        receipts = ReceiptUpload.objects.filter(sync=sync, state=UploadState.UPLOADED).count()
        return (
            f"{company.name}: pushed {pushed}, synced {synced}, failed {failed}, "
            f"receipts uploaded {receipts}"
        )
