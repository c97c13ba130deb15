"""After a run: is every expense settled with a reason, does the sandbox ledger hold each
synced expense exactly once and no failed one, and is every sync Codat started for the company
one the portal follows? (Codat's duplicate protection keeps a second write of an expense out of
the ledger; the sync that tried it is still there to be counted.)"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from companies.models import Company
from expenses.models import Expense, ExpenseStatus
from reliability.seed import sandbox_ledger_ids, sandbox_sync_ids
from syncs.models import Sync

SETTLED = (ExpenseStatus.SYNCED, ExpenseStatus.FAILED)


@dataclass
class Audit:
    expenses: int
    synced: int
    failed: int
    unsettled: int
    failed_without_reason: int
    ledger_records: int
    duplicates: int
    synced_missing_from_ledger: int
    in_ledger_not_synced: int
    codat_syncs: int = 0
    # Started by Codat for the company, yet on no sync of the portal: a write it lost track of.
    codat_syncs_unknown: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.unsettled
            or self.failed_without_reason
            or self.duplicates
            or self.synced_missing_from_ledger
            or self.in_ledger_not_synced
            or self.codat_syncs_unknown
        )

    def lines(self) -> list[str]:
        out = [
            f"expenses checked: {self.expenses} (synced {self.synced}, failed {self.failed}, "
            f"unsettled {self.unsettled})",
            f"failed without a reason: {self.failed_without_reason}",
            f"ledger records: {self.ledger_records}; duplicates found: {self.duplicates}",
            f"synced but missing from the ledger: {self.synced_missing_from_ledger}; "
            f"in the ledger but not synced: {self.in_ledger_not_synced}",
            f"syncs in Codat: {self.codat_syncs}; not followed by the portal: "
            f"{self.codat_syncs_unknown}",
        ]
        out += [f"  failed x{n}: {reason}" for reason, n in self.failure_reasons.items()]
        return out


def company_audit(*, company: Company) -> Audit:
    rows = list(
        Expense.objects.filter(company=company).values_list("pk", "status", "failure_message")
    )
    ledger = Counter(sandbox_ledger_ids(company))
    synced = {str(pk) for pk, status, _ in rows if status == ExpenseStatus.SYNCED}
    failed = [(str(pk), message) for pk, status, message in rows if status == ExpenseStatus.FAILED]
    reasons = Counter(message.splitlines()[0][:160] for _, message in failed if message)
    codat_syncs = set(sandbox_sync_ids(company))
    followed = {
        str(sync_id)
        for sync_id in Sync.objects.filter(
            company=company, codat_sync_id__isnull=False
        ).values_list("codat_sync_id", flat=True)
    }
    return Audit(
        expenses=len(rows),
        synced=len(synced),
        failed=len(failed),
        unsettled=sum(1 for _, status, _ in rows if status not in SETTLED),
        failed_without_reason=sum(1 for _, message in failed if not message.strip()),
        ledger_records=sum(ledger.values()),
        duplicates=sum(n - 1 for n in ledger.values() if n > 1),
        synced_missing_from_ledger=len(synced - set(ledger)),
        in_ledger_not_synced=len(set(ledger) - synced),
        codat_syncs=len(codat_syncs),
        codat_syncs_unknown=len(codat_syncs - followed),
        failure_reasons=dict(reasons.most_common(5)),
    )


def company_unsettled(*, company: Company) -> int:
    return Expense.objects.filter(company=company).exclude(status__in=SETTLED).count()
