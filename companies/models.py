"""Customer companies, their Codat connections, who may see them, and the master data pulled
from their accounting software (chart of accounts, tracking categories, tax rates, contacts)."""

from __future__ import annotations

import uuid
from typing import Self, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from companies.platforms import API_LABELS, ApiGeneration, Platform, valid_for_entry
from gateway.apis import expenses_api_generation
from sfe_portal.db import choices_check


class CompanyStatus(models.TextChoices):
    NEW = "new", "New"
    AWAITING_LINK = "awaiting_link", "Waiting for the customer to link"
    PULLING = "pulling", "Pulling master data"
    NEEDS_CONFIGURATION = "needs_configuration", "Needs configuration"
    READY = "ready", "Ready"
    DISCONNECTED = "disconnected", "Disconnected"
    ARCHIVED = "archived", "Archived"


def default_expenses_api() -> str:
    """A new company speaks the deployment's generation, `CODAT_EXPENSES_API_DEFAULT`."""
    return expenses_api_generation()


class Company(models.Model):
    name = models.CharField(max_length=200)
    codat_company_id = models.UUIDField(null=True, blank=True, unique=True)
    platform = models.CharField(max_length=4, choices=Platform.choices)
    # The generation of Codat's expenses API the company's next push is written through; each
    # sync and batch keeps the one it was written through (`Sync.expenses_api`).
    expenses_api = models.CharField(
        "expenses API",
        max_length=8,
        choices=ApiGeneration.choices,
        default=default_expenses_api,
    )
    base_currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(
        max_length=24, choices=CompanyStatus.choices, default=CompanyStatus.NEW
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    auto_push = models.BooleanField(default=False)
    master_data_refreshed_at = models.DateTimeField(null=True, blank=True)
    # A new value whenever a record of the company's master data is written (a refresh, an
    # edit in admin), in the same transaction: what a page caches from the master data is
    # keyed on it (expenses.selectors.coding_choices).
    master_data_version = models.UUIDField(default=uuid.uuid4, editable=False)
    # Set when a master-data refresh was asked of Codat; the poll gives up on dataStatus after a
    # bounded time measured from here, and clears it once the data is pulled.
    refresh_started_at = models.DateTimeField(null=True, blank=True)
    # The last onboarding or refresh step that failed, in plain words, so the page can say what
    # went wrong and offer a retry; cleared when that step succeeds.
    last_error_step = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Set when a push of the approved expenses is asked for, cleared by the claim that takes it
    # up (in the transaction that makes its sync, or finds nothing to push, or is refused):
    # while set, the push is in flight though no sync exists yet.
    push_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            choices_check("platform", Platform, "company_platform_valid"),
            choices_check("status", CompanyStatus, "company_status_valid"),
            choices_check("expenses_api", ApiGeneration, "company_expenses_api_valid"),
            models.CheckConstraint(
                condition=Q(base_currency="") | Q(base_currency__regex=r"^[A-Z]{3}$"),
                name="company_base_currency_iso",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="company_name_not_empty"),
        ]
        indexes = [models.Index(fields=["status"], name="company_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def platform_label(self) -> str:
        return Platform(self.platform).label

    @property
    def expenses_api_label(self) -> str:
        """The generation of Codat's expenses API the company speaks: 'Expenses API'."""
        return API_LABELS[ApiGeneration(self.expenses_api)]


class SwitchChannel(models.TextChoices):
    PORTAL = "portal", "Company settings page"
    ADMIN = "admin", "Admin action"
    COMMAND = "command", "manage.py expenses_api"


class ExpensesApiSwitch(models.Model):
    """A company moved from one generation of Codat's expenses API to the other by the cut-over
    (`syncs.cutover`): who did it, when, from where, and what went back to coding because the
    new generation refuses it. Rows are only ever added."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="expenses_api_switches", db_index=False
    )
    from_api = models.CharField("from", max_length=8, choices=ApiGeneration.choices)
    to_api = models.CharField("to", max_length=8, choices=ApiGeneration.choices)
    # Empty when run from the command line without naming an account.
    switched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    via = models.CharField(max_length=8, choices=SwitchChannel.choices)
    switched_at = models.DateTimeField()
    sent_back_to_coding = models.PositiveIntegerField(default=0)
    # What the switch did, in the words the command and the page showed.
    summary = models.TextField(blank=True)

    class Meta:
        verbose_name = "expenses API switch"
        verbose_name_plural = "expenses API switches"
        ordering = ["-switched_at", "-id"]
        constraints = [
            choices_check("from_api", ApiGeneration, "expensesapiswitch_from_valid"),
            choices_check("to_api", ApiGeneration, "expensesapiswitch_to_valid"),
            choices_check("via", SwitchChannel, "expensesapiswitch_via_valid"),
            models.CheckConstraint(
                condition=~Q(from_api=models.F("to_api")), name="expensesapiswitch_moves"
            ),
        ]
        indexes = [
            models.Index(fields=["company", "-switched_at"], name="expensesapiswitch_company_idx"),
            # Deleting a user clears the switches that name them; the others are not indexed.
            models.Index(
                fields=["switched_by"],
                condition=Q(switched_by__isnull=False),
                name="expensesapiswitch_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.company} · {self.get_from_api_display()} → {self.get_to_api_display()} "
            f"({self.switched_at:%Y-%m-%d %H:%M})"
        )

    @property
    def by_label(self) -> str:
        """Who switched, as pages name them."""
        if self.switched_by is not None:
            return self.switched_by.get_username()
        return self.get_via_display()


class ConnectionKind(models.TextChoices):
    ACCOUNTING = "accounting", "Accounting"
    PARTNER_EXPENSE = "partner_expense", "Partner expense"


class ConnectionStatus(models.TextChoices):
    """Codat's `dataConnectionStatus`, spelled as Codat spells it."""

    PENDING_AUTH = "PendingAuth", "Pending authorization"
    LINKED = "Linked", "Linked"
    UNLINKED = "Unlinked", "Unlinked"
    DEAUTHORIZED = "Deauthorized", "Deauthorized"


class Connection(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="connections")
    codat_connection_id = models.UUIDField(unique=True)
    kind = models.CharField(max_length=16, choices=ConnectionKind.choices)
    platform_key = models.CharField(max_length=4)
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.PENDING_AUTH
    )
    link_url = models.URLField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Set when the connection was deleted in Codat; kept for the history of syncs it carried.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            choices_check("kind", ConnectionKind, "connection_kind_valid"),
            choices_check("status", ConnectionStatus, "connection_status_valid"),
            # One live connection of each kind per company: Codat supports one accounting
            # connection per company for Sync for Expenses.
            models.UniqueConstraint(
                fields=["company", "kind"],
                condition=Q(deleted_at__isnull=True),
                name="connection_one_live_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} · {self.get_kind_display()} ({self.status})"

    @property
    def is_linked(self) -> bool:
        return self.status == ConnectionStatus.LINKED


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    BOOKKEEPER = "bookkeeper", "Bookkeeper"
    APPROVER = "approver", "Approver"


ROLE_RANK = {Role.VIEWER: 1, Role.BOOKKEEPER: 2, Role.APPROVER: 3}


class NoticeChoice(models.TextChoices):
    """What a member hears of the company's failures (failed syncs, a disconnection, a stalled
    push, a receipt the ledger would not take)."""

    EVERY = "every", "Every failure, as it happens"
    DIGEST = "digest", "A daily digest of what is still failing"
    NONE = "none", "Nothing"


# What a member hears until they choose: approvers act on failures, so they hear of each one.
NOTICE_DEFAULTS = {Role.APPROVER: NoticeChoice.EVERY}


def notice_choice_for(*, role: str, chosen: str) -> NoticeChoice:
    """The member's own choice, or their role's default when they have made none."""
    if chosen:
        return NoticeChoice(chosen)
    return NOTICE_DEFAULTS.get(Role(role), NoticeChoice.NONE)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    # Empty until the member chooses: the role's default applies (`notice_choice_for`).
    notices = models.CharField(max_length=8, choices=NoticeChoice.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Who made someone a member, changed their role or removed them, and when.
    history = HistoricalRecords(excluded_fields=["created_at"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="membership_unique_pair"),
            choices_check("role", Role, "membership_role_valid"),
            models.CheckConstraint(
                condition=Q(notices="") | Q(notices__in=NoticeChoice.values),
                name="membership_notices_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.company} ({self.role})"

    @property
    def notice_choice(self) -> NoticeChoice:
        return notice_choice_for(role=self.role, chosen=self.notices)


class Invitation(models.Model):
    """An invitation to join a company with a role, sent to an e-mail address. It gives no
    account anything until it is accepted through its signed link; accepting makes the
    account (or takes the signed-in one with that address) and the membership."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()  # stored in lower case
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    # Random; the link carries it signed with SECRET_KEY, so the table alone makes no link.
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    invited_as_staff = models.BooleanField(
        default=False, help_text="Sent by a staff account (support), acting by its permissions."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_check("role", Role, "invitation_role_valid"),
            # Inviting an address again replaces its pending invitation (a new link).
            models.UniqueConstraint(
                fields=["company", "email"],
                condition=Q(accepted_at__isnull=True),
                name="invitation_one_pending_per_email",
            ),
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="invitation_email_lower"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} · {self.company} ({self.role})"


# --- Master data ------------------------------------------------------------------------------


class SourceStatus(models.TextChoices):
    """A record's status in the accounting software (Codat's Active / Archived / Unknown)."""

    ACTIVE = "Active", "Active"
    ARCHIVED = "Archived", "Archived"
    PENDING = "Pending", "Pending"
    UNKNOWN = "Unknown", "Unknown"


_M = TypeVar("_M", bound="MasterData")


class MasterDataQuerySet(models.QuerySet[_M, _M]):
    def usable(self) -> Self:
        """What new coding may point at: active in the ledger, not deleted, still pulled."""
        return self.filter(status=SourceStatus.ACTIVE, is_deleted=False, missing_since__isnull=True)


class MasterData(models.Model):
    """A record pulled from the customer's accounting software, keyed by its Codat id.

    Records are never hard-deleted: expenses may point at them. One that Codat stops returning
    gets `missing_since`; one deleted or archived in the ledger keeps its flags.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    codat_id = models.CharField(max_length=200)
    name = models.CharField(max_length=300)
    status = models.CharField(
        max_length=12, choices=SourceStatus.choices, default=SourceStatus.ACTIVE
    )
    is_deleted = models.BooleanField(default=False)
    missing_since = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return (
            self.status == SourceStatus.ACTIVE
            and not self.is_deleted
            and self.missing_since is None
        )

    @property
    def unusable_reason(self) -> str:
        if self.missing_since is not None:
            return "no longer exists in the accounting software"
        if self.is_deleted:
            return "was deleted in the accounting software"
        if self.status != SourceStatus.ACTIVE:
            return f"is {self.get_status_display().lower()} in the accounting software"
        return ""


def _master_data_meta(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.UniqueConstraint(fields=["company", "codat_id"], name=f"{prefix}_unique_codat_id"),
        choices_check("status", SourceStatus, f"{prefix}_status_valid"),
    ]


class AccountType(models.TextChoices):
    ASSET = "Asset", "Asset"
    LIABILITY = "Liability", "Liability"
    INCOME = "Income", "Income"
    EXPENSE = "Expense", "Expense"
    EQUITY = "Equity", "Equity"
    UNKNOWN = "Unknown", "Unknown"


class LedgerAccount(MasterData):
    """An account of the chart of accounts, with the transaction types it accepts."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="ledger_accounts", db_index=False
    )
    nominal_code = models.CharField(max_length=50, blank=True)
    full_name = models.CharField(max_length=500, blank=True)
    account_type = models.CharField(
        max_length=12, choices=AccountType.choices, default=AccountType.UNKNOWN
    )
    currency = models.CharField(max_length=3, blank=True)
    valid_transaction_types = models.JSONField(default=list, blank=True)
    is_bank_account = models.BooleanField(default=False)
    # The endpoints (and expense types) the newer generation's mapping options say the account
    # may be used with ("expense-transactions.Payment", "transfer-transactions"). Null when the
    # options were read without it (v1's shape): then its transaction types decide.
    valid_for = models.JSONField(null=True, blank=True)

    objects = MasterDataQuerySet["LedgerAccount"].as_manager()

    class Meta(MasterData.Meta):
        constraints = [
            *_master_data_meta("ledgeraccount"),
            choices_check("account_type", AccountType, "ledgeraccount_type_valid"),
        ]
        indexes = [
            models.Index(
                fields=["company", "status", "is_deleted"], name="ledgeraccount_usable_idx"
            ),
            models.Index(fields=["company", "is_bank_account"], name="ledgeraccount_bank_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.nominal_code} {self.name}".strip()

    def accepts(self, transaction_type: str, api: str = ApiGeneration.V1) -> bool:
        """Whether an expense of this type may be coded to the account, in generation `api`:
        by `valid_for` in the newer generation once the options have said it, else by the
        account's transaction types."""
        if api != ApiGeneration.V1 and self.valid_for is not None:
            return valid_for_entry(transaction_type) in self.valid_for
        return transaction_type in (self.valid_transaction_types or [])


class TrackingCategory(MasterData):
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        related_name="tracking_categories",
        db_index=False,
    )
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    has_children = models.BooleanField(default=False)

    objects = MasterDataQuerySet["TrackingCategory"].as_manager()

    class Meta(MasterData.Meta):
        verbose_name_plural = "tracking categories"
        constraints = [
            *_master_data_meta("trackingcategory"),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="trackingcategory_not_own_parent"
            ),
        ]
        indexes = [models.Index(fields=["company", "status"], name="trackingcategory_status_idx")]

    def __str__(self) -> str:
        return f"{self.parent.name} › {self.name}" if self.parent_id and self.parent else self.name


class TaxRate(MasterData):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="tax_rates", db_index=False
    )
    code = models.CharField(max_length=100, blank=True)
    effective_rate = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    total_rate = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    valid_transaction_types = models.JSONField(default=list, blank=True)

    objects = MasterDataQuerySet["TaxRate"].as_manager()

    class Meta(MasterData.Meta):
        constraints = [
            *_master_data_meta("taxrate"),
            models.CheckConstraint(
                condition=Q(effective_rate__gte=0, total_rate__gte=0), name="taxrate_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["company", "status"], name="taxrate_status_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.effective_rate.normalize():f}%)"

    def accepts(self, transaction_type: str) -> bool:
        """A rate that names no transaction types may be used on any."""
        types = self.valid_transaction_types or []
        return not types or transaction_type in types


class Supplier(MasterData):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="suppliers", db_index=False
    )
    default_currency = models.CharField(max_length=3, blank=True)

    objects = MasterDataQuerySet["Supplier"].as_manager()

    class Meta(MasterData.Meta):
        constraints = _master_data_meta("supplier")
        indexes = [models.Index(fields=["company", "status"], name="supplier_status_idx")]


class Customer(MasterData):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="customers", db_index=False
    )
    default_currency = models.CharField(max_length=3, blank=True)

    objects = MasterDataQuerySet["Customer"].as_manager()

    class Meta(MasterData.Meta):
        constraints = _master_data_meta("customer")
        indexes = [models.Index(fields=["company", "status"], name="customer_status_idx")]


class BankAccountType(models.TextChoices):
    CREDIT = "Credit", "Credit"
    DEBIT = "Debit", "Debit"
    UNKNOWN = "Unknown", "Unknown"


class BankAccount(MasterData):
    """A bank account as the accounting connection reports it (`…/data/bankAccounts`)."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="bank_accounts", db_index=False
    )
    account_type = models.CharField(
        max_length=8, choices=BankAccountType.choices, default=BankAccountType.UNKNOWN
    )
    nominal_code = models.CharField(max_length=50, blank=True)
    currency = models.CharField(max_length=3, blank=True)

    objects = MasterDataQuerySet["BankAccount"].as_manager()

    class Meta(MasterData.Meta):
        constraints = [
            *_master_data_meta("bankaccount"),
            choices_check("account_type", BankAccountType, "bankaccount_type_valid"),
        ]


class CompanyConfiguration(models.Model):
    """The fallback bank account, supplier and customer Codat uses for a company's expenses."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="configuration")
    bank_account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    saved_to_codat_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Who changed the default bank account, supplier or customer, and when.
    history = HistoricalRecords(excluded_fields=["saved_to_codat_at", "updated_by", "updated_at"])

    def __str__(self) -> str:
        return f"Configuration of {self.company}"

    @property
    def is_complete(self) -> bool:
        return self.bank_account_id is not None
