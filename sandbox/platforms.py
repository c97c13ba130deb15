"""The four accounting platforms behind the sandbox: their rules (API-NOTES §4) and the ledger a
new company starts with.

Every seeded ledger is deterministic from the company id (`random.Random(company_id.int)`), so a
test that creates a company can rely on what it will find: the same chart, contacts, tax rates and
tracking categories for the same id, in that platform's own id and code style.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PAYMENT, REFUND, REWARD, CHARGEBACK = "Payment", "Refund", "Reward", "Chargeback"
TRANSFER_IN, TRANSFER_OUT = "TransferIn", "TransferOut"
ADJUSTMENT_IN, ADJUSTMENT_OUT = "AdjustmentIn", "AdjustmentOut"
ALL_TYPES = (
    PAYMENT,
    REFUND,
    REWARD,
    CHARGEBACK,
    TRANSFER_IN,
    TRANSFER_OUT,
    ADJUSTMENT_IN,
    ADJUSTMENT_OUT,
)
TRANSFERS = frozenset({TRANSFER_IN, TRANSFER_OUT})
ADJUSTMENTS = frozenset({ADJUSTMENT_IN, ADJUSTMENT_OUT})
# The newer generation ("Expenses") keeps four expense types; transfers, adjustments and
# reimbursable expenses have endpoints of their own. Their transactions are recorded under these
# type names (sync transactions, ledger records).
EXPENSE_TYPES = (PAYMENT, REFUND, REWARD, CHARGEBACK)
TRANSFER, ADJUSTMENT, REIMBURSABLE = "Transfer", "Adjustment", "Reimbursable"
# Which account kinds accept which types (see `account_valid_types`).
_SPEND_TYPES = (PAYMENT, REFUND, CHARGEBACK, ADJUSTMENT_IN, ADJUSTMENT_OUT)
_INCOME_TYPES = (REWARD, ADJUSTMENT_IN, ADJUSTMENT_OUT)

# A deliberately early lock date: a transaction dated on or before it is refused by the platform
# at push time (PushError), as every one of the four platforms does for a locked period.
LEDGER_LOCK_DATE = "2020-12-31"
SEED_TIME = "2026-01-05T09:00:00Z"

DATA_TYPES = (
    "company",
    "chartOfAccounts",
    "bankAccounts",
    "suppliers",
    "customers",
    "trackingCategories",
    "taxRates",
)


@dataclass(frozen=True)
class Platform:
    key: str
    name: str
    base_currency: str
    foreign_currency: str
    supported_types: frozenset[str]
    no_tax_code: str
    attachment_max_bytes: int
    attachment_extensions: frozenset[str] | None  # None: no extension limit
    attachment_types: frozenset[str]
    record_labels: dict[str, str] = field(default_factory=dict)

    def contact_kind(self, tx_type: str, account_is_bank: bool) -> str | None:
        """Which contact the platform records against (API-NOTES §4.3)."""
        if self.key == "trji":
            return "Supplier"  # always the configured default supplier
        if self.key == "gbol":
            if tx_type in (REFUND, REWARD, CHARGEBACK, TRANSFER_IN):
                return "Customer"
            if tx_type == ADJUSTMENT_IN:
                return "Supplier" if account_is_bank else "Customer"
            return "Supplier"
        if self.key == "qhyg":
            return "Customer" if tx_type in ADJUSTMENTS else "Supplier"
        return "Supplier"

    @property
    def supplier_per_transaction(self) -> bool:
        # Dynamics 365 takes the supplier from the configuration only (API-NOTES §4.3).
        return self.key != "trji"

    def currency_problem(self, *, base: str, bank: str, txn: str) -> str | None:
        """The FX matrix of API-NOTES §4.4 for Payments and Refunds, applied to every type."""
        if self.key == "gbol":
            return None  # Xero books in the bank account's currency whatever the transaction says
        if self.key == "trji" and bank != txn:
            return (
                f"{self.name} only supports transactions in the bank account's currency: "
                f"the bank account is in {bank} and the transaction in {txn}."
            )
        if self.key == "akxx" and bank != base:
            return (
                f"{self.name} credit card accounts must be in the base currency {base}; "
                f"the bank account is in {bank}."
            )
        if self.key == "qhyg" and bank not in (txn, base):
            return (
                f"{self.name} cannot post a {txn} transaction from a {bank} bank account: "
                f"two non-base currencies ({bank}, {txn}) cannot appear in one transaction "
                f"(base currency {base})."
            )
        if bank != base and txn != base and bank != txn:
            return (
                f"Two non-base currencies ({bank}, {txn}) cannot appear in one transaction "
                f"(base currency {base})."
            )
        return None

    def booked_currency(self, *, bank: str, txn: str) -> str:
        return bank if self.key == "gbol" else txn

    def record_label(self, tx_type: str) -> str:
        return self.record_labels.get(tx_type, "Journal entry")

    @property
    def newer(self) -> NewerRules:
        return NEWER[self.key]


@dataclass(frozen=True)
class NewerRules:
    """What the newer generation supports on a platform (EXPENSES-API-NOTES §1.1, §3.2), from the
    operations' "Supported integrations" tables in Codat-Sync-Expenses.json."""

    expense_types: frozenset[str]
    # update-expense-transaction: Payment only, on the platforms its table lists.
    updates: bool
    transfer_create: bool
    transfer_update: bool
    reimbursable_create: bool
    reimbursable_update: bool
    # postAsDraft is "currently only available for Microsoft Dynamics"; invoiceTo "only for
    # QuickBooks Online and QuickBooks Desktop". Anywhere else the sandbox refuses them.
    post_as_draft: bool = False
    invoice_to: bool = False


# Adjustments (create-adjustment-transaction) per platform: ONE entry for the whole sandbox.
# The spec's table (Codat-Sync-Expenses.json, create-adjustment-transaction) and the
# expense-transactions guide say "currently only available for QuickBooks Desktop"; Codat's
# Expenses overview page lists Dynamics 365, QuickBooks Desktop, QuickBooks Online and Xero.
# Until Codat confirms the wider list (EXPENSES-API-NOTES §5 q3), the safer reading holds: none of
# the sandbox's four platforms takes adjustments, and the endpoint refuses them with a 400.
ADJUSTMENT_PLATFORMS: frozenset[str] = frozenset()


_XERO_EXT = frozenset(
    [
        "7z",
        "bmp",
        "csv",
        "doc",
        "docx",
        "eml",
        "gif",
        "jpeg",
        "jpg",
        "keynote",
        "msg",
        "numbers",
        "odf",
        "ods",
        "odt",
        "pages",
        "pdf",
        "png",
        "ppt",
        "pptx",
        "rar",
        "rtf",
        "tif",
        "tiff",
        "txt",
        "xls",
        "xlsx",
        "zip",
    ]
)
_QBO_EXT = frozenset(
    [
        "ai",
        "csv",
        "doc",
        "docx",
        "eps",
        "gif",
        "jpeg",
        "jpg",
        "ods",
        "pages",
        "pdf",
        "png",
        "rtf",
        "tif",
        "txt",
        "xls",
        "xlsx",
        "xml",
    ]
)
_NS_EXT = frozenset(
    [
        "bmp",
        "csv",
        "xls",
        "xlsx",
        "json",
        "pdf",
        "pjpg",
        "pjpeg",
        "png",
        "txt",
        "svg",
        "tif",
        "tiff",
        "doc",
        "docx",
        "zip",
    ]
)
_MB = 1024 * 1024

PLATFORMS: dict[str, Platform] = {
    "gbol": Platform(
        key="gbol",
        name="Xero",
        base_currency="GBP",
        foreign_currency="USD",
        supported_types=frozenset(ALL_TYPES),
        no_tax_code="NONE",
        attachment_max_bytes=10 * _MB,
        attachment_extensions=_XERO_EXT,
        attachment_types=frozenset({PAYMENT, REFUND, REWARD, CHARGEBACK}),
        record_labels={
            PAYMENT: "Spend money",
            REFUND: "Receive money",
            REWARD: "Receive money",
            CHARGEBACK: "Receive money",
            TRANSFER_IN: "Bank transfer",
            TRANSFER_OUT: "Bank transfer",
            ADJUSTMENT_IN: "Manual journal",
            ADJUSTMENT_OUT: "Manual journal",
            TRANSFER: "Bank transfer",
            ADJUSTMENT: "Manual journal",
        },
    ),
    "qhyg": Platform(
        key="qhyg",
        name="QuickBooks Online",
        base_currency="USD",
        foreign_currency="CAD",
        supported_types=frozenset(ALL_TYPES),
        no_tax_code="NON",
        attachment_max_bytes=100 * _MB,
        attachment_extensions=_QBO_EXT,
        # The spec: Payment, Refund and reimbursable expenses (bills).
        attachment_types=frozenset({PAYMENT, REFUND, REIMBURSABLE}),
        record_labels={
            PAYMENT: "Expense",
            REFUND: "Credit card credit",
            REWARD: "Deposit",
            CHARGEBACK: "Credit card credit",
            TRANSFER_IN: "Transfer",
            TRANSFER_OUT: "Transfer",
            ADJUSTMENT_IN: "Journal entry",
            ADJUSTMENT_OUT: "Journal entry",
            TRANSFER: "Transfer",
            ADJUSTMENT: "Journal entry",
            REIMBURSABLE: "Bill",
        },
    ),
    "akxx": Platform(
        key="akxx",
        name="Oracle NetSuite",
        base_currency="USD",
        foreign_currency="EUR",
        supported_types=frozenset({PAYMENT, REFUND}),
        no_tax_code="-7",
        attachment_max_bytes=100 * _MB,
        attachment_extensions=_NS_EXT,
        attachment_types=frozenset({PAYMENT, REFUND}),
        record_labels={
            PAYMENT: "Credit card charge",
            REFUND: "Credit card refund",
            REIMBURSABLE: "Vendor bill",
            ADJUSTMENT: "Journal entry",
        },
    ),
    "trji": Platform(
        key="trji",
        name="Dynamics 365 Business Central",
        base_currency="EUR",
        foreign_currency="USD",
        supported_types=frozenset({PAYMENT, REFUND, REWARD, CHARGEBACK}),
        no_tax_code="ZERO",
        attachment_max_bytes=350 * _MB,
        attachment_extensions=None,
        attachment_types=frozenset({PAYMENT, REFUND, REWARD, CHARGEBACK}),
        record_labels={
            PAYMENT: "Purchase invoice",
            REFUND: "Purchase credit memo",
            REWARD: "Cash receipt journal",
            CHARGEBACK: "Purchase credit memo",
            ADJUSTMENT: "General journal",
        },
    ),
}


NEWER: dict[str, NewerRules] = {
    # Xero: 4 types, Payment updates, transfers created but never updated, no reimbursables.
    "gbol": NewerRules(
        expense_types=frozenset(EXPENSE_TYPES),
        updates=True,
        transfer_create=True,
        transfer_update=False,
        reimbursable_create=False,
        reimbursable_update=False,
    ),
    "qhyg": NewerRules(
        expense_types=frozenset(EXPENSE_TYPES),
        updates=True,
        transfer_create=True,
        transfer_update=True,
        reimbursable_create=True,
        reimbursable_update=True,
        invoice_to=True,
    ),
    # NetSuite: Codat's overview now lists all four types, API-NOTES §4.2 (v1) Payment and Refund;
    # the safer reading keeps Payment and Refund (EXPENSES-API-NOTES §5 q7).
    "akxx": NewerRules(
        expense_types=frozenset({PAYMENT, REFUND}),
        updates=True,
        transfer_create=False,
        transfer_update=False,
        reimbursable_create=True,
        reimbursable_update=True,
    ),
    "trji": NewerRules(
        expense_types=frozenset(EXPENSE_TYPES),
        updates=False,
        transfer_create=False,
        transfer_update=False,
        reimbursable_create=False,
        reimbursable_update=False,
        post_as_draft=True,
    ),
}


def adjustments_supported(platform: Platform) -> bool:
    return platform.key in ADJUSTMENT_PLATFORMS


def account_valid_types(account: dict[str, Any], platform: Platform) -> list[str]:
    """`validTransactionTypes` of an account in mapping options.

    Expense accounts take spend and its reversals (Payment, Refund, Chargeback) and adjustments
    (write-offs, FX); income accounts take Reward (cashback) and adjustments; bank and credit-card
    accounts are the other side of a transfer; other balance-sheet asset accounts (prepayments)
    take spend and its reversals; liabilities and equity take nothing. The platform's own
    support (API-NOTES §4.2) then narrows the list.
    """
    if account.get("isBankAccount"):
        kinds: tuple[str, ...] = (TRANSFER_IN, TRANSFER_OUT)
    elif account["type"] == "Expense":
        kinds = _SPEND_TYPES
    elif account["type"] == "Income":
        kinds = _INCOME_TYPES
    elif account["type"] == "Asset":
        kinds = (PAYMENT, REFUND, CHARGEBACK)
    else:
        kinds = ()
    return [t for t in kinds if t in platform.supported_types]


def tax_valid_types(tax_rate: dict[str, Any], platform: Platform) -> list[str]:
    """Purchase rates for spend, sales rates for income; the "no tax" code for everything."""
    usage = tax_rate.get("_usage", "purchase")
    if usage == "none":
        kinds: tuple[str, ...] = ALL_TYPES
    elif usage == "sales":
        kinds = _INCOME_TYPES
    else:
        kinds = _SPEND_TYPES
    return [t for t in kinds if t in platform.supported_types]


def newer_account_valid_types(account: dict[str, Any], platform: Platform) -> list[str]:
    """`validTransactionTypes` in the newer generation: only the four expense types remain."""
    return [t for t in account_valid_types(account, platform) if t in platform.newer.expense_types]


def newer_tax_valid_types(tax_rate: dict[str, Any], platform: Platform) -> list[str]:
    return [t for t in tax_valid_types(tax_rate, platform) if t in platform.newer.expense_types]


def reimbursable_account(account: dict[str, Any]) -> bool:
    """A bill line books to what a Payment line books to: expense and prepayment accounts."""
    return not account.get("isBankAccount") and account["type"] in ("Expense", "Asset")


def adjustment_account(account: dict[str, Any]) -> bool:
    """A journal line may book to balance-sheet and expense accounts (and income, for FX)."""
    return account["type"] in ("Asset", "Liability", "Equity", "Expense", "Income")


def valid_for(account: dict[str, Any], platform: Platform) -> list[str]:
    """`validFor` of an account in the newer generation's mapping options: the endpoints (and
    expense types) it may be used with, derived as `validTransactionTypes` is and narrowed to
    what the platform supports."""
    rules = platform.newer
    result = [f"expense-transactions.{t}" for t in newer_account_valid_types(account, platform)]
    if rules.reimbursable_create and reimbursable_account(account):
        result.append("reimbursable-expense-transactions")
    if rules.transfer_create and account.get("isBankAccount"):
        result.append("transfer-transactions")
    if adjustments_supported(platform) and adjustment_account(account):
        result.append("adjustment-transactions")
    return result


# --- Seeded ledgers -------------------------------------------------------------------------------

# (name, type, category, is_bank, currency: "base" | "foreign", status)
_CHART: list[tuple[str, str, str, bool, str, str]] = [
    ("Business Current Account", "Asset", "Bank", True, "base", "Active"),
    ("Business Savings Account", "Asset", "Bank", True, "base", "Active"),
    ("Foreign Currency Account", "Asset", "Bank", True, "foreign", "Active"),
    ("Corporate Card", "Liability", "Credit Card", True, "base", "Active"),
    ("Corporate Card (Foreign)", "Liability", "Credit Card", True, "foreign", "Active"),
    ("Prepayments", "Asset", "Current Asset", False, "base", "Active"),
    ("Accounts Payable", "Liability", "Current Liability", False, "base", "Active"),
    ("Sales Tax Payable", "Liability", "Current Liability", False, "base", "Active"),
    ("Retained Earnings", "Equity", "Equity", False, "base", "Active"),
    ("Sales", "Income", "Revenue", False, "base", "Active"),
    ("Cashback and Rewards", "Income", "Other Income", False, "base", "Active"),
    ("Interest Income", "Income", "Other Income", False, "base", "Active"),
    ("Advertising and Marketing", "Expense", "Operating Expense", False, "base", "Active"),
    ("Bank Fees", "Expense", "Operating Expense", False, "base", "Active"),
    ("Travel - National", "Expense", "Operating Expense", False, "base", "Active"),
    ("Travel - International", "Expense", "Operating Expense", False, "base", "Active"),
    ("Meals and Entertainment", "Expense", "Operating Expense", False, "base", "Active"),
    ("Office Supplies", "Expense", "Operating Expense", False, "base", "Active"),
    ("Software and Subscriptions", "Expense", "Operating Expense", False, "base", "Active"),
    ("Telephone and Internet", "Expense", "Operating Expense", False, "base", "Active"),
    ("Motor Vehicle Expenses", "Expense", "Operating Expense", False, "base", "Active"),
    ("Training and Development", "Expense", "Operating Expense", False, "base", "Active"),
    ("Postage and Courier", "Expense", "Operating Expense", False, "base", "Active"),
    ("Foreign Exchange Gains and Losses", "Expense", "Other Expense", False, "base", "Active"),
    ("Entertainment (old)", "Expense", "Operating Expense", False, "base", "Archived"),
]

_SUPPLIERS = [
    "Amazon Business",
    "British Airways",
    "Uber",
    "Pret A Manger",
    "Staples",
    "Slack Technologies",
    "Atlassian",
    "Hilton Hotels",
    "Shell",
    "Trainline",
    "FedEx",
    "Adobe",
    "Zoom Video Communications",
    "Deliveroo",
]
_CUSTOMERS = [
    "Card Rewards Programme",
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam Inc",
    "Tailspin Toys",
    "Wide World Importers",
]
_DEPARTMENTS = ["Sales", "Engineering", "Operations", "Finance", "Marketing"]
_LOCATIONS = {
    "gbol": ["London", "Manchester", "Edinburgh"],
    "qhyg": ["New York", "San Francisco", "Austin"],
    "akxx": ["Chicago", "Seattle", "Boston"],
    "trji": ["Berlin", "Munich", "Amsterdam"],
}


def _tax_rates(key: str, rng: random.Random) -> list[dict[str, Any]]:
    # (id, name, code, rate, usage, status)
    rows: list[tuple[str, str, str, str, str, str]]
    if key == "gbol":
        rows = [
            ("INPUT2", "20% (VAT on Expenses)", "INPUT2", "20.00", "purchase", "Active"),
            ("INPUT", "5% (VAT on Expenses)", "INPUT", "5.00", "purchase", "Active"),
            ("ZERORATEDINPUT", "Zero Rated Expenses", "ZERORATEDINPUT", "0", "purchase", "Active"),
            ("EXEMPTEXPENSES", "Exempt Expenses", "EXEMPTEXPENSES", "0", "purchase", "Active"),
            ("OUTPUT2", "20% (VAT on Income)", "OUTPUT2", "20.00", "sales", "Active"),
            ("NONE", "No VAT", "NONE", "0", "none", "Active"),
            ("INPUT17", "17.5% (VAT on Expenses)", "INPUT17", "17.50", "purchase", "Archived"),
        ]
    elif key == "qhyg":
        rows = [
            ("NON", "Non-taxable", "NON", "0", "none", "Active"),
            ("TAX", "Taxable", "TAX", "0", "purchase", "Active"),
            (str(rng.randint(2, 9)), "NY State Sales Tax", "NYS", "8.875", "purchase", "Active"),
            (str(rng.randint(10, 19)), "California Sales Tax", "CA", "7.25", "purchase", "Active"),
            (str(rng.randint(20, 29)), "Texas Sales Tax", "TX", "6.25", "sales", "Active"),
            (str(rng.randint(30, 39)), "Old County Tax", "OCT", "1.00", "purchase", "Archived"),
        ]
    elif key == "akxx":
        rows = [
            ("-7", "-Not Taxable-", "UNDEF-US", "0", "none", "Active"),
            (str(rng.randint(100, 199)), "CA Sales Tax", "CA-SALES", "7.25", "purchase", "Active"),
            (str(rng.randint(200, 299)), "NY Sales Tax", "NY-SALES", "8.875", "purchase", "Active"),
            (str(rng.randint(300, 399)), "WA Sales Tax", "WA-SALES", "6.5", "sales", "Active"),
            (
                str(rng.randint(400, 499)),
                "IL Sales Tax (old)",
                "IL-OLD",
                "6.25",
                "purchase",
                "Archived",
            ),
        ]
    else:
        rows = [
            ("ZERO", "No VAT (0%)", "ZERO", "0", "none", "Active"),
            ("VAT19", "VAT 19% (Purchases)", "VAT19", "19.00", "purchase", "Active"),
            ("VAT7", "VAT 7% (Purchases)", "VAT7", "7.00", "purchase", "Active"),
            ("VAT19S", "VAT 19% (Sales)", "VAT19S", "19.00", "sales", "Active"),
            ("VAT16", "VAT 16% (2020)", "VAT16", "16.00", "purchase", "Archived"),
        ]
    result = []
    for rate_id, name, code, rate, usage, status in rows:
        result.append(
            {
                "id": rate_id,
                "name": name,
                "code": code,
                "status": status,
                "effectiveTaxRate": float(Decimal(rate)),
                "totalTaxRate": float(Decimal(rate)),
                "components": [{"name": name, "rate": float(Decimal(rate)), "isCompound": False}],
                "validDatatypeLinks": [],
                "metadata": {"isDeleted": False},
                "modifiedDate": SEED_TIME,
                "sourceModifiedDate": SEED_TIME,
                "_usage": usage,
            }
        )
    return result


def _account_ids(key: str, rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(id, nominalCode) pairs in the platform's own style."""
    pairs = []
    start = rng.randint(10, 80)
    for index in range(count):
        if key == "gbol":
            pairs.append(
                (str(uuid.UUID(int=rng.getrandbits(128), version=4)), str(200 + index * 10))
            )
        elif key == "qhyg":
            pairs.append((str(start + index), ""))
        elif key == "akxx":
            pairs.append((str(100 + start + index), str(1000 + index * 100)))
        else:
            pairs.append(
                (str(uuid.UUID(int=rng.getrandbits(128), version=4)), str(10000 + index * 100))
            )
    return pairs


def seed_ledger(
    platform: Platform, company_id: uuid.UUID, company_name: str
) -> dict[str, list[dict[str, Any]]]:
    """Every data type of a new company on `platform`, in Codat's shapes, from its id alone."""
    rng = random.Random(company_id.int)
    base, foreign = platform.base_currency, platform.foreign_currency
    meta = {"isDeleted": False}

    accounts: list[dict[str, Any]] = []
    bank_accounts: list[dict[str, Any]] = []
    for (acc_id, code), (name, acc_type, category, is_bank, ccy, status) in zip(
        _account_ids(platform.key, rng, len(_CHART)), _CHART, strict=True
    ):
        currency = base if ccy == "base" else foreign
        display = name.replace("Foreign", currency) if "Foreign" in name and is_bank else name
        balance = (
            round(rng.uniform(-5000, 50000), 2) if is_bank else round(rng.uniform(0, 20000), 2)
        )
        accounts.append(
            {
                "id": acc_id,
                "nominalCode": code or None,
                "name": display,
                "description": f"{display} ({category})",
                "fullyQualifiedCategory": f"{acc_type}.{category}",
                "fullyQualifiedName": f"{acc_type}.{category}.{display}",
                "currency": currency,
                "currentBalance": balance,
                "type": acc_type,
                "status": status,
                "isBankAccount": is_bank,
                "validDatatypeLinks": [],
                "metadata": dict(meta),
                "modifiedDate": SEED_TIME,
                "sourceModifiedDate": SEED_TIME,
            }
        )
        if is_bank:
            bank_accounts.append(
                {
                    "id": acc_id,
                    "accountName": display,
                    "accountType": "Credit" if acc_type == "Liability" else "Debit",
                    "nominalCode": code or None,
                    "sortCode": "-".join(str(rng.randint(10, 99)) for _ in range(3)),
                    "accountNumber": str(rng.randint(10_000_000, 99_999_999)),
                    "iBan": None,
                    "currency": currency,
                    "balance": balance,
                    "availableBalance": balance,
                    "overdraftLimit": 0,
                    "institution": rng.choice(["Barclays", "HSBC", "Chase", "Deutsche Bank"]),
                    "status": status,
                    "metadata": dict(meta),
                    "modifiedDate": SEED_TIME,
                    "sourceModifiedDate": SEED_TIME,
                }
            )

    supplier_names = rng.sample(_SUPPLIERS, 10)
    suppliers: list[dict[str, Any]] = []
    for index, name in enumerate(supplier_names):
        archived = index >= 8
        trades_in = None if index % 3 == 0 else (foreign if index == 7 else base)
        suppliers.append(
            {
                "id": _contact_id(platform.key, rng, "S", index),
                "supplierName": name,
                "contactName": name,
                "emailAddress": f"accounts@{name.split()[0].lower()}.example",
                "phone": None,
                "addresses": [],
                "registrationNumber": None,
                "taxNumber": None,
                "status": "Archived" if archived else "Active",
                "defaultCurrency": trades_in,
                "metadata": dict(meta),
                "modifiedDate": SEED_TIME,
                "sourceModifiedDate": SEED_TIME,
            }
        )
    customers: list[dict[str, Any]] = []
    for index, name in enumerate(_CUSTOMERS):
        customers.append(
            {
                "id": _contact_id(platform.key, rng, "C", index),
                "customerName": name,
                "contactName": name,
                "emailAddress": f"finance@{name.split()[0].lower()}.example",
                "defaultCurrency": base if index != 3 else None,
                "phone": None,
                "addresses": [],
                "contacts": [],
                "registrationNumber": None,
                "taxNumber": None,
                "status": "Archived" if index == len(_CUSTOMERS) - 1 else "Active",
                "metadata": dict(meta),
                "modifiedDate": SEED_TIME,
                "sourceModifiedDate": SEED_TIME,
            }
        )

    tracking: list[dict[str, Any]] = []
    for group, names in (("Departments", _DEPARTMENTS), ("Locations", _LOCATIONS[platform.key])):
        parent_id = _tracking_id(platform.key, rng, group, 0)
        tracking.append(
            {
                "id": parent_id,
                "name": group,
                "status": "Active",
                "parentId": None,
                "hasChildren": True,
                "metadata": dict(meta),
                "modifiedDate": SEED_TIME,
            }
        )
        for index, name in enumerate(names, start=1):
            tracking.append(
                {
                    "id": _tracking_id(platform.key, rng, group, index),
                    "name": name,
                    "status": "Archived"
                    if group == "Departments" and index == len(names)
                    else "Active",
                    "parentId": parent_id,
                    "hasChildren": False,
                    "metadata": dict(meta),
                    "modifiedDate": SEED_TIME,
                }
            )

    info: dict[str, Any] = {
        "id": str(company_id),
        "companyName": company_name,
        "accountingPlatformRef": platform.name,
        "companyLegalName": f"{company_name} Ltd",
        "baseCurrency": base,
        "ledgerLockDate": f"{LEDGER_LOCK_DATE}T00:00:00",
        "financialYearStartDate": "2026-01-01T00:00:00",
        "registrationNumber": str(rng.randint(1_000_000, 9_999_999)),
        "taxNumber": None,
        "sourceUrls": {},
        "addresses": [],
        "phoneNumbers": [],
        "webLinks": [],
        "createdDate": SEED_TIME,
    }
    return {
        "company": [info],
        "chartOfAccounts": accounts,
        "bankAccounts": bank_accounts,
        "suppliers": suppliers,
        "customers": customers,
        "trackingCategories": tracking,
        "taxRates": _tax_rates(platform.key, rng),
    }


def _contact_id(key: str, rng: random.Random, kind: str, index: int) -> str:
    if key in ("gbol", "trji"):
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    base = 50 if kind == "S" else 20
    return str(base + index * 3 + rng.randint(0, 2))


def _tracking_id(key: str, rng: random.Random, group: str, index: int) -> str:
    prefix = "DEPARTMENT" if group == "Departments" else "LOCATION"
    if key == "gbol":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if key == "qhyg":
        return f"{'class' if prefix == 'DEPARTMENT' else 'location'}-{rng.randint(100, 999)}{index}"
    if key == "akxx":
        return f"{prefix.lower()}_{index + 1}"
    return f"{prefix}_{index}"


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record without the sandbox's private `_` keys."""
    return {k: v for k, v in record.items() if not k.startswith("_")}
