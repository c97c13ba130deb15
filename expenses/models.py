"""Card spend to be coded and pushed: expenses, their lines and receipts, merchant rules and the
audit trail of every change."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import IContains
from simple_history.models import HistoricalRecords

from companies.models import Company, LedgerAccount, Supplier, TaxRate, TrackingCategory
from companies.platforms import TransactionType
from sfe_portal.db import choices_check
from sfe_portal.money import MAX_MINOR_UNITS

# Codat accepts amounts from 0 to 5,000,000; the direction of money comes from the type.
MAX_AMOUNT = Decimal("5000000")
MAX_LINES = 100
MAX_TRACKING_REFS = 10


_SPACES = re.compile(r"\s+")
# "Uber #1234", "TESCO STORES 3021", "Shell 0042": the number names a branch, not a merchant.
# A word of its own ("Casino 5" keeps "casino"), or glued on after a "#".
_STORE_NUMBER = re.compile(r"(?:(?:^|\s+)(?:#\s*|no\.?\s*)?|#)\d+$")


def merchant_key(name: str) -> str:
    """A merchant name as coding history groups it: casefolded, trimmed, one space between
    words, without a trailing store number (unless the name is nothing but digits)."""
    text = _SPACES.sub(" ", name.casefold()).strip()
    return _STORE_NUMBER.sub("", text).strip()[:300] or text[:300]


class MoneyField(models.DecimalField):
    """An amount stored with as many decimals as the currency with the most has
    (sfe_portal.money: BHD's three), read back with two unless it needs the third: a pound
    amount reads 12.50 wherever it is shown as it is (admin, exports), a dinar 12.345."""

    def from_db_value(self, value: Decimal | None, *args: Any) -> Decimal | None:
        if value is None:
            return None
        two = value.quantize(_CENT)
        return two if two == value else value


_CENT = Decimal("0.01")


def money_field(**kwargs: Any) -> models.DecimalField[Decimal, Decimal]:
    """A non-negative amount in a currency's major unit; pages write it with its currency's
    decimals (sfe_portal.money)."""
    return MoneyField(max_digits=15, decimal_places=MAX_MINOR_UNITS, **kwargs)


class ExpenseStatus(models.TextChoices):
    UNCATEGORIZED = "uncategorized", "To categorize"
    CATEGORIZED = "categorized", "Ready to approve"
    APPROVED = "approved", "Approved"
    PUSHING = "pushing", "Pushing"
    SYNCING = "syncing", "In sync"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    # Codat's duplicate protection says it was written before, and no sync that wrote it could
    # be found: it may be in the ledger. Never sent again until support has looked.
    NEEDS_SUPPORT = "needs_support", "Needs support"
    EXCLUDED = "excluded", "Excluded"


_E = ExpenseStatus
# Expenses whose coding someone accepted (past the queue, pushed yet or not): the coding
# history suggestions learn from.
CODED_STATUSES = (_E.CATEGORIZED, _E.APPROVED, _E.PUSHING, _E.SYNCING, _E.SYNCED)
# The expense state machine. Services move expenses only along these edges.
EXPENSE_TRANSITIONS: dict[str, frozenset[str]] = {
    _E.UNCATEGORIZED: frozenset({_E.CATEGORIZED, _E.EXCLUDED}),
    _E.CATEGORIZED: frozenset({_E.UNCATEGORIZED, _E.APPROVED, _E.EXCLUDED}),
    # An approved expense that is edited goes back for approval, or to coding when the chart
    # of accounts changed under it; the push claims it into PUSHING.
    _E.APPROVED: frozenset({_E.CATEGORIZED, _E.UNCATEGORIZED, _E.PUSHING, _E.EXCLUDED}),
    # A push that is refused before any dataset is posted hands the expense back.
    _E.PUSHING: frozenset({_E.SYNCING, _E.APPROVED, _E.FAILED}),
    _E.SYNCING: frozenset({_E.SYNCED, _E.FAILED, _E.NEEDS_SUPPORT}),
    # A synced expense changes only through Codat's update endpoint, which starts a new sync.
    _E.SYNCED: frozenset({_E.SYNCING}),
    # Support marks a failed expense synced when it is known to be in the ledger already.
    _E.FAILED: frozenset({_E.UNCATEGORIZED, _E.CATEGORIZED, _E.APPROVED, _E.EXCLUDED, _E.SYNCED}),
    # Support found it in the ledger (synced), or found it is not there (failed: it may be
    # fixed and sent again).
    _E.NEEDS_SUPPORT: frozenset({_E.SYNCED, _E.FAILED}),
    _E.EXCLUDED: frozenset({_E.UNCATEGORIZED, _E.CATEGORIZED}),
}
EDITABLE_STATUSES = frozenset(
    {_E.UNCATEGORIZED, _E.CATEGORIZED, _E.APPROVED, _E.FAILED, _E.EXCLUDED}
)


class ExpenseSource(models.TextChoices):
    API = "api", "Card platform API"
    CSV = "csv", "CSV import"
    DEMO = "demo", "Demo data"
    MANUAL = "manual", "Entered by hand"


class ExpenseQuerySet(models.QuerySet["Expense"]):
    def bulk_create(self, objs: Iterable[Expense], *args: Any, **kwargs: Any) -> list[Expense]:
        objs = list(objs)
        for expense in objs:
            expense.merchant_key = merchant_key(expense.merchant_name)
        return super().bulk_create(objs, *args, **kwargs)


# What the queue's text and person filters search, in one value (`SearchedText`).
SEARCHED_FIELDS = ("merchant_name", "notes", "employee_name", "card_label")


class SearchedText(models.Func):
    """An expense's searched fields in one text, apart by a control character (chr 31) that no
    filter text holds, so that a match in the whole is a match in one field.

    PostgreSQL keeps a single trigram index on this text (migration 0006, same expression): a
    filter narrows by it first, then checks its own fields. One index instead of one a field,
    because every status move of an expense writes every index of the table.
    """

    template = "(%(expressions)s)"
    arg_joiner = " || chr(31) || "
    output_field = models.TextField()

    def __init__(self) -> None:
        super().__init__(*(F(name) for name in SEARCHED_FIELDS))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, arg_joiner=" || char(31) || ", **extra)


def searched(text: str, *fields: str) -> Q:
    """Expenses with `text` (case-insensitive) in one of the searched fields, or only in
    `fields` when given, narrowed first by the searched text's index."""
    anywhere = Q(IContains(SearchedText(), text))
    if not fields:
        return anywhere
    assert set(fields) <= set(SEARCHED_FIELDS), fields
    either = Q()
    for name in fields:
        either |= Q(**{f"{name}__icontains": text})
    return anywhere & either


class Expense(models.Model):
    # The UUID is also the expense's Codat transaction id, for life.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every index of the table that a company's reads use starts with
    # company_id, and one index fewer is less to write on each of an expense's status moves.
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="expenses", db_index=False
    )
    external_id = models.CharField(max_length=200)
    source = models.CharField(
        max_length=8, choices=ExpenseSource.choices, default=ExpenseSource.API
    )
    type = models.CharField(max_length=16, choices=TransactionType.choices)
    issue_date = models.DateField()
    currency = models.CharField(max_length=3)
    # What one unit of the foreign currency is worth in the company's base currency: Codat
    # multiplies the foreign amount by it (expenses/currency_rate.py).
    currency_rate = models.DecimalField(max_digits=24, decimal_places=9, null=True, blank=True)
    # Why a person must check the rate before the expense can go out; cleared when the rate is
    # saved again on the expense page.
    currency_rate_to_check = models.CharField(max_length=500, blank=True)
    amount = money_field()
    merchant_name = models.CharField(max_length=300, blank=True)
    # merchant_name normalised (merchant_key()), kept in step on every save and bulk_create:
    # coding history is looked up by it.
    merchant_key = models.CharField(max_length=300, blank=True, editable=False)
    card_label = models.CharField(max_length=100, blank=True)
    employee_name = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    # Indexed only where set (expense_supplier_override_idx): most expenses have none.
    supplier_override = models.ForeignKey(
        Supplier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(
        max_length=16, choices=ExpenseStatus.choices, default=ExpenseStatus.UNCATEGORIZED
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    # Why it cannot go out as it is (chart-of-accounts change, Codat's failure in plain words).
    needs_recoding_reason = models.CharField(max_length=500, blank=True)
    failure_message = models.TextField(blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ExpenseQuerySet.as_manager()

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "external_id"], name="expense_external_id_unique"
            ),
            choices_check("type", TransactionType, "expense_type_valid"),
            choices_check("status", ExpenseStatus, "expense_status_valid"),
            choices_check("source", ExpenseSource, "expense_source_valid"),
            models.CheckConstraint(
                condition=Q(amount__gte=0, amount__lte=MAX_AMOUNT), name="expense_amount_in_bounds"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="expense_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(currency_rate__isnull=True) | Q(currency_rate__gt=0),
                name="expense_currency_rate_positive",
            ),
            models.CheckConstraint(condition=~Q(external_id=""), name="expense_external_id_set"),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True)
                | Q(
                    status__in=[
                        _E.APPROVED,
                        _E.PUSHING,
                        _E.SYNCING,
                        _E.SYNCED,
                        _E.FAILED,
                        _E.NEEDS_SUPPORT,
                    ]
                ),
                name="expense_approval_only_when_approved",
            ),
        ]
        indexes = [
            # The queue: a status tab of one company, newest first, keyset-paged on (date, id).
            models.Index(
                fields=["company", "status", "-issue_date", "-id"], name="expense_queue_idx"
            ),
            # The "All" tab and date-range filters.
            models.Index(fields=["company", "-issue_date", "-id"], name="expense_company_date_idx"),
            # Backlog age on the dashboard: oldest approved-but-unpushed expense per company.
            # Only approved rows are in it, so a push's status moves never write it.
            models.Index(
                fields=["company", "status_changed_at"],
                condition=Q(status=ExpenseStatus.APPROVED),
                name="expense_approved_age_idx",
            ),
            # Deleting a supplier looks for expenses that name it; the others are not indexed.
            models.Index(
                fields=["supplier_override"],
                condition=Q(supplier_override__isnull=False),
                name="expense_supplier_override_idx",
            ),
            # Coding history: a merchant's most recent coded expenses, read a few per merchant.
            models.Index(
                fields=["company", "merchant_key", "-issue_date", "-id"],
                condition=Q(status__in=CODED_STATUSES),
                name="expense_merchant_history_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_name or self.external_id} {self.amount} {self.currency}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.merchant_key = merchant_key(self.merchant_name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "merchant_name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "merchant_key"}
        super().save(*args, **kwargs)

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class ExpenseLine(models.Model):
    expense = models.ForeignKey(
        Expense, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=500, blank=True)
    net_amount = money_field()
    tax_amount = money_field(default=Decimal("0.00"))
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tax_rate = models.ForeignKey(
        TaxRate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tracking_categories = models.ManyToManyField(TrackingCategory, blank=True, related_name="+")

    class Meta:
        ordering = ["expense", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["expense", "position"], name="expenseline_position_unique"
            ),
            models.CheckConstraint(
                condition=Q(position__lt=MAX_LINES), name="expenseline_at_most_100_lines"
            ),
            models.CheckConstraint(
                condition=Q(net_amount__gte=0, net_amount__lte=MAX_AMOUNT)
                & Q(tax_amount__gte=0, tax_amount__lte=MAX_AMOUNT),
                name="expenseline_amounts_in_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"Line {self.position + 1}: {self.net_amount} + {self.tax_amount}"

    @property
    def gross_amount(self) -> Decimal:
        return self.net_amount + self.tax_amount


def receipt_upload_to(instance: Receipt, filename: str) -> str:
    # The stored name never comes from the user: it is the content hash, so no path tricks.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    suffix = "".join(ch for ch in suffix if ch.isalnum())[:8] or "bin"
    return (
        f"receipts/{instance.expense.company_id}/{instance.expense_id}/{instance.sha256}.{suffix}"
    )


class Receipt(models.Model):
    expense = models.ForeignKey(
        Expense, on_delete=models.CASCADE, related_name="receipts", db_index=False
    )
    file = models.FileField(upload_to=receipt_upload_to, max_length=300)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["expense", "sha256"], name="receipt_unique_per_expense"
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="receipt_not_empty"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="receipt_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class RuleMatch(models.TextChoices):
    CONTAINS = "contains", "Merchant contains"
    EQUALS = "equals", "Merchant equals"


class CategorizationRule(models.Model):
    """A merchant rule: matching expenses get this coding. Lower `priority` wins."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="rules", db_index=False
    )
    match = models.CharField(max_length=8, choices=RuleMatch.choices, default=RuleMatch.CONTAINS)
    pattern = models.CharField(max_length=200)
    transaction_type = models.CharField(max_length=16, choices=TransactionType.choices, blank=True)
    min_amount = money_field(null=True, blank=True)
    max_amount = money_field(null=True, blank=True)
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="+")
    tax_rate = models.ForeignKey(
        TaxRate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tracking_categories = models.ManyToManyField(TrackingCategory, blank=True, related_name="+")
    priority = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Who made, edited, switched off or deleted the rule, and when (its tracking categories
    # are not kept: a many-to-many field is beyond the history's rows).
    history = HistoricalRecords(excluded_fields=["created_by", "created_at"])

    class Meta:
        ordering = ["company", "priority", "id"]
        constraints = [
            choices_check("match", RuleMatch, "rule_match_valid"),
            models.CheckConstraint(condition=~Q(pattern=""), name="rule_pattern_not_empty"),
            models.CheckConstraint(
                condition=Q(transaction_type="") | Q(transaction_type__in=TransactionType.values),
                name="rule_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True)
                | Q(max_amount__isnull=True)
                | Q(min_amount__lte=F("max_amount")),
                name="rule_amount_range_ordered",
            ),
        ]
        indexes = [models.Index(fields=["company", "is_active", "priority"], name="rule_order_idx")]

    def __str__(self) -> str:
        return f"{self.get_match_display()} '{self.pattern}'"

    def matches(self, expense: Expense) -> bool:
        """Whether the rule's condition holds for `expense` (merchant compared case-blind)."""
        merchant = expense.merchant_name.casefold().strip()
        pattern = self.pattern.casefold().strip()
        if self.match == RuleMatch.EQUALS and merchant != pattern:
            return False
        if self.match == RuleMatch.CONTAINS and pattern not in merchant:
            return False
        if self.transaction_type and self.transaction_type != expense.type:
            return False
        if self.min_amount is not None and expense.amount < self.min_amount:
            return False
        return self.max_amount is None or expense.amount <= self.max_amount


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    CODED = "coded", "Coding changed"
    STATUS = "status", "Status changed"
    RECEIPT_ADDED = "receipt_added", "Receipt added"
    RECEIPT_REMOVED = "receipt_removed", "Receipt removed"
    RULE_APPLIED = "rule_applied", "Rule applied"
    NEEDS_RECODING = "needs_recoding", "Needs recoding"
    NOTE = "note", "Note"
    SYNC_RESULT = "sync_result", "Sync result"


class ExpenseEvent(models.Model):
    """The audit trail: who did what to an expense, and when. Rows are only ever added."""

    # No index of its own: the trail's index starts with the expense, and every state change of
    # an expense writes an event, so one index fewer is less to write on each.
    expense = models.ForeignKey(
        Expense, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    # Indexed only where set (expenseevent_actor_idx): the pipeline's own events have none.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The actor was a staff account (support) acting by its permissions, not a member of the
    # company: set from the actor when the event is written (see `acted_as_staff`).
    as_staff = models.BooleanField("as support", default=False)
    from_status = models.CharField(max_length=16, choices=ExpenseStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=ExpenseStatus.choices, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [choices_check("kind", EventKind, "expenseevent_kind_valid")]
        indexes = [
            models.Index(fields=["expense", "created_at"], name="expenseevent_trail_idx"),
            # Deleting a user clears the events that name them; the others are not indexed.
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="expenseevent_actor_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and self.actor_id is not None:
            self.as_staff = acted_as_staff(self.actor)
        super().save(*args, **kwargs)


def acted_as_staff(actor: Any) -> bool:
    """Whether an event written for `actor` is marked as made by support. Events written
    without `save()` (bulk inserts) set `as_staff` with this too."""
    return bool(actor is not None and actor.is_staff)


class IngestToken(models.Model):
    """A key the card platform uses to send expenses. Only its SHA-256 is kept."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=8, help_text="The key's first characters, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    # Empty means the key may send expenses for every company.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="ingest_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="From this moment the API refuses the key, saying it expired. "
        "Empty: it does not expire.",
    )
    # Who created, changed or revoked the key, and when (never its hash; uses are not kept).
    history = HistoricalRecords(excluded_fields=["key_hash", "created_at", "last_used_at"])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(key_hash__regex=r"^[0-9a-f]{64}$"), name="ingesttoken_hash_hex"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now
