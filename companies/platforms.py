"""The accounting platforms we sync to, and what each generation of Codat's expenses API lets
each of them do.

The portal's one table of platform and transaction-type facts: which types a platform takes, the
contact each is recorded against, which need a tax rate, which take receipts (and what size and
formats), which a correction can update, how the ledger names the record. Validation, the ledger
reading, receipts, corrections, the ingest API's document and the pages read it through
`rules_for` (or `PLATFORM_RULES`) at call time, so a rule is written once and an override of
`PLATFORM_RULES` reaches every one of them.
Sources: Codat's v1 docs as summarised in shared/codat/API-NOTES.md §4 and §7; for the newer
"Expenses" generation, its OpenAPI document as summarised in shared/codat/EXPENSES-API-NOTES.md
§1 and §3.2. `PLATFORM_RULES` holds v1's facts and `NEWER_GENERATION` only what the newer
generation changes of them, so a fact both share is written once; `rules_for(platform, api=…)`
puts them together.

The sandbox keeps its own copy (`sandbox/platforms.py`) on purpose: it plays Codat, so the two
may disagree, and tests/companies/test_platform_rules.py shows where they do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import models

from codat.expenses_api import (
    ADJUSTMENT_TRANSACTIONS,
    EXPENSE_TRANSACTIONS,
    TRANSFER_TRANSACTIONS,
)


class Platform(models.TextChoices):
    """Stored as Codat's platform key, so the value is what create-connection takes."""

    XERO = "gbol", "Xero"
    QUICKBOOKS_ONLINE = "qhyg", "QuickBooks Online"
    NETSUITE = "akxx", "Oracle NetSuite"
    DYNAMICS_365 = "trji", "Dynamics 365 Business Central"


class ApiGeneration(models.TextChoices):
    """The generation of Codat's expenses API a company speaks (`gateway.apis.GENERATIONS`)."""

    V1 = "v1", "Sync for Expenses v1"
    EXPENSES = "expenses", "Expenses (newer)"


class TransactionType(models.TextChoices):
    PAYMENT = "Payment", "Payment"
    REFUND = "Refund", "Refund"
    REWARD = "Reward", "Reward"
    CHARGEBACK = "Chargeback", "Chargeback"
    TRANSFER_IN = "TransferIn", "Transfer in"
    TRANSFER_OUT = "TransferOut", "Transfer out"
    ADJUSTMENT_IN = "AdjustmentIn", "Adjustment in"
    ADJUSTMENT_OUT = "AdjustmentOut", "Adjustment out"


_T = TransactionType

# What a type means, on every platform alike.
# Transfers move money between two of the company's own accounts.
TRANSFER_TYPES = frozenset({_T.TRANSFER_IN, _T.TRANSFER_OUT})
ADJUSTMENT_TYPES = frozenset({_T.ADJUSTMENT_IN, _T.ADJUSTMENT_OUT})
ALL_TYPES = frozenset(TransactionType)
# Types that bring money back onto the card (or into the bank account); the rest take it out.
MONEY_IN_TYPES = frozenset({_T.REFUND, _T.REWARD, _T.CHARGEBACK, _T.TRANSFER_IN, _T.ADJUSTMENT_IN})


class ContactKind(models.TextChoices):
    SUPPLIER = "supplier", "Supplier"
    CUSTOMER = "customer", "Customer"
    NONE = "none", "No contact"


MB = 1024 * 1024


@dataclass(frozen=True)
class ReceiptRules:
    """What one platform takes as an attachment (API-NOTES §7)."""

    max_bytes: int
    # Receipt formats by content type, in the order a message names them.
    content_types: tuple[str, ...]
    transaction_types: frozenset[TransactionType]


# How messages name each generation.
_API_NAMES = {ApiGeneration.V1: "Sync for Expenses", ApiGeneration.EXPENSES: "Codat's Expenses API"}
# How the pages label the generation a company speaks, beside its platform (Codat's product
# names; the choices' labels are the admin's).
API_LABELS = {ApiGeneration.V1: "Sync for Expenses v1", ApiGeneration.EXPENSES: "Expenses API"}


@dataclass(frozen=True)
class PlatformRules:
    # The types the portal sends the platform through the generation's expense endpoint.
    supported_types: frozenset[TransactionType]
    # Which contact the platform records each type against (API-NOTES §4.3).
    contact_for_type: dict[TransactionType, ContactKind]
    no_tax_code: str
    supplier_per_transaction: bool
    needs_default_supplier: bool
    # Types v1's update endpoint corrects once synced (API-NOTES §4.7).
    updates_supported_types: frozenset[TransactionType]
    receipts: ReceiptRules
    # The record the platform shows for money out and for money in, in its own words.
    money_out_record: str
    money_in_record: str
    # Currencies (API-NOTES §4.4), for Payments and Refunds and applied to every type: whether
    # the platform books in the card account's currency whatever the transaction's; whether a
    # foreign card may spend in its own currency; whether a base-currency card may spend abroad.
    books_in_bank_currency: bool
    foreign_card_in_own_currency: bool
    base_card_abroad: bool
    # Codat takes no tax rate on transfers (API-NOTES §4.5), on every v1 platform.
    types_without_tax_rate: frozenset[TransactionType] = TRANSFER_TYPES
    # The generation of Codat's expenses API these rules are for.
    api: ApiGeneration = ApiGeneration.V1
    # Supported types the generation takes through create-transfer-transaction, one transfer a
    # call, rather than with the expenses (the newer generation's transfers).
    transfer_types: frozenset[TransactionType] = frozenset()
    # Types the generation takes from the platform through an endpoint of their own, which the
    # portal does not send to (the newer generation's adjustments, where enabled).
    types_elsewhere: frozenset[TransactionType] = frozenset()

    @property
    def api_name(self) -> str:
        """How messages name the generation: 'Sync for Expenses', "Codat's Expenses API"."""
        return _API_NAMES[self.api]

    def supports(self, transaction_type: str) -> bool:
        return transaction_type in self.supported_types

    def endpoint_for(self, transaction_type: str) -> str:
        """The endpoint an expense of this type is written through (see `codat.expenses_api`)."""
        if transaction_type in self.transfer_types:
            return TRANSFER_TRANSACTIONS
        return EXPENSE_TRANSACTIONS

    def type_refusal(self, transaction_type: str, *, platform_label: str) -> tuple[str, str]:
        """Why an expense of an unsupported type cannot be sent, and what to do instead."""
        label = TransactionType(transaction_type).label
        if transaction_type in self.types_elsewhere:
            return (
                f"{self.api_name} takes {platform_label} {label} transactions through an "
                "endpoint of their own, which the portal does not send to.",
                f"Exclude this expense, or record it in {platform_label} by hand.",
            )
        if self.api == ApiGeneration.EXPENSES and transaction_type in TRANSFER_TYPES:
            takers = listed(
                [platform.label for platform, newer in NEWER_GENERATION.items() if newer.transfers]
            )
            return (
                f"{self.api_name} writes no transfers to {platform_label}: its transfer "
                f"endpoint takes {takers} only.",
                f"Exclude this expense and record the transfer in {platform_label} by hand.",
            )
        return (
            f"{platform_label} does not accept {label} transactions from {self.api_name}.",
            "Exclude this expense and record it in the accounting software by hand.",
        )

    def contact_for(self, transaction_type: str) -> ContactKind:
        return self.contact_for_type.get(TransactionType(transaction_type), ContactKind.NONE)

    def takes_supplier_override(self, transaction_type: str) -> bool:
        """Whether an expense of this type may name its own supplier (`contactRef`)."""
        return (
            self.supplier_per_transaction
            and self.contact_for(transaction_type) == ContactKind.SUPPLIER
        )

    def needs_tax_rate(self, transaction_type: str) -> bool:
        return transaction_type not in self.types_without_tax_rate

    def takes_receipts(self, transaction_type: str) -> bool:
        return transaction_type in self.receipts.transaction_types

    def updates(self, transaction_type: str) -> bool:
        return transaction_type in self.updates_supported_types

    def booked_currency(self, *, bank: str, transaction: str) -> str:
        """The currency the platform records the expense in (`bank` empty: none chosen yet)."""
        return bank if self.books_in_bank_currency and bank else transaction


_S, _C, _N = ContactKind.SUPPLIER, ContactKind.CUSTOMER, ContactKind.NONE
_PDF, _PNG, _JPEG, _GIF = "application/pdf", "image/png", "image/jpeg", "image/gif"
_WEBP, _TIFF, _BMP, _HEIC = "image/webp", "image/tiff", "image/bmp", "image/heic"
_PAYMENT_REFUND = frozenset({_T.PAYMENT, _T.REFUND})
_EXPENSE_TYPES = frozenset({_T.PAYMENT, _T.REFUND, _T.REWARD, _T.CHARGEBACK})

# Receipts: only the receipt formats of each platform's list are taken (spreadsheets, office
# documents and archives are not receipts), and no platform takes attachments on transfers or
# adjustments, which are journal-like records with nothing to attach a receipt to.
# `settings.RECEIPT_MAX_BYTES` caps every platform's size (what the portal is willing to store).
PLATFORM_RULES: dict[Platform, PlatformRules] = {
    Platform.XERO: PlatformRules(
        supported_types=ALL_TYPES,
        contact_for_type={
            _T.PAYMENT: _S,
            _T.REFUND: _C,
            _T.REWARD: _C,
            _T.CHARGEBACK: _C,
            _T.TRANSFER_IN: _C,
            _T.TRANSFER_OUT: _S,
            # Xero books AdjustmentIn against a supplier when the account is a bank account,
            # otherwise a customer; the customer is the common case.
            _T.ADJUSTMENT_IN: _C,
            _T.ADJUSTMENT_OUT: _S,
        },
        no_tax_code="NONE",
        supplier_per_transaction=True,
        needs_default_supplier=False,
        updates_supported_types=frozenset({_T.PAYMENT}),
        # 10 MB as Codat's current docs say; its list has no WebP or HEIC.
        receipts=ReceiptRules(
            max_bytes=10 * MB,
            content_types=(_PDF, _PNG, _JPEG, _GIF, _TIFF, _BMP),
            transaction_types=_EXPENSE_TYPES,
        ),
        money_out_record="a spend money payment",
        money_in_record="a receive money payment",
        books_in_bank_currency=True,
        foreign_card_in_own_currency=True,
        base_card_abroad=True,
    ),
    Platform.QUICKBOOKS_ONLINE: PlatformRules(
        supported_types=ALL_TYPES,
        contact_for_type={
            _T.PAYMENT: _S,
            _T.REFUND: _S,
            _T.REWARD: _S,
            _T.CHARGEBACK: _S,
            _T.TRANSFER_IN: _S,
            _T.TRANSFER_OUT: _S,
            _T.ADJUSTMENT_IN: _C,
            _T.ADJUSTMENT_OUT: _C,
        },
        no_tax_code="NON",
        supplier_per_transaction=True,
        needs_default_supplier=False,
        updates_supported_types=frozenset(),
        receipts=ReceiptRules(
            max_bytes=100 * MB,
            content_types=(_PDF, _PNG, _JPEG, _GIF, _TIFF),
            transaction_types=_PAYMENT_REFUND,
        ),
        money_out_record="an expense",
        money_in_record="a credit card credit",
        books_in_bank_currency=False,
        foreign_card_in_own_currency=True,
        base_card_abroad=True,
    ),
    Platform.NETSUITE: PlatformRules(
        supported_types=_PAYMENT_REFUND,
        contact_for_type={_T.PAYMENT: _S, _T.REFUND: _S},
        no_tax_code="-7",
        supplier_per_transaction=True,
        needs_default_supplier=False,
        updates_supported_types=frozenset(),
        # SVG is left out of NetSuite's list: it can carry script. NetSuite files every JPEG
        # (its list says PJPEG) under one type, so JPEG content is taken.
        receipts=ReceiptRules(
            max_bytes=100 * MB,
            content_types=(_PDF, _PNG, _JPEG, _TIFF, _BMP),
            transaction_types=_PAYMENT_REFUND,
        ),
        money_out_record="a credit card charge",
        money_in_record="a credit card refund",
        books_in_bank_currency=False,
        foreign_card_in_own_currency=False,
        base_card_abroad=True,
    ),
    Platform.DYNAMICS_365: PlatformRules(
        supported_types=_EXPENSE_TYPES,
        contact_for_type={_T.PAYMENT: _N, _T.REFUND: _N, _T.REWARD: _N, _T.CHARGEBACK: _N},
        no_tax_code="",  # Dynamics has no built-in code: the company creates a 0% rate
        supplier_per_transaction=False,
        needs_default_supplier=True,
        updates_supported_types=frozenset(),
        # No type limits on images.
        receipts=ReceiptRules(
            max_bytes=350 * MB,
            content_types=(_PDF, _PNG, _JPEG, _GIF, _WEBP, _TIFF, _BMP, _HEIC),
            transaction_types=_EXPENSE_TYPES,
        ),
        money_out_record="a card payment",
        money_in_record="a card refund",
        books_in_bank_currency=False,
        foreign_card_in_own_currency=True,
        base_card_abroad=False,
    ),
}


@dataclass(frozen=True)
class NewerGeneration:
    """What Codat's newer Expenses API changes of a platform's v1 rules (EXPENSES-API-NOTES
    §3.2). Its expense endpoint takes only Payment, Refund, Reward and Chargeback, of the
    types the platform took in v1; transfers and adjustments have endpoints of their own."""

    # Expense types its update endpoint corrects once synced.
    updates_supported_types: frozenset[TransactionType]
    # create-transfer-transaction (a PUT by transaction id): whether the platform takes
    # transfers, and whether the same PUT again updates one (else a transfer is create only).
    transfers: bool = False
    transfer_updates: bool = False
    # The largest receipt, where the newer document gives a smaller one than v1's rules.
    receipt_max_bytes: int | None = None


# Transfers, from the spec's table for create-transfer-transaction: Xero creates only, QuickBooks
# Online creates and updates; NetSuite and Dynamics take none.
# Xero receipts: the newer document says 3 MB, Codat's docs 10 MB: the smaller holds, so a
# receipt is never turned away by Codat after the portal took it (docs/codat-expenses-api.md).
NEWER_GENERATION: dict[Platform, NewerGeneration] = {
    Platform.XERO: NewerGeneration(
        frozenset({_T.PAYMENT}), transfers=True, receipt_max_bytes=3 * MB
    ),
    Platform.QUICKBOOKS_ONLINE: NewerGeneration(
        frozenset({_T.PAYMENT}), transfers=True, transfer_updates=True
    ),
    Platform.NETSUITE: NewerGeneration(frozenset({_T.PAYMENT})),
    Platform.DYNAMICS_365: NewerGeneration(frozenset()),
}

# Adjustments (create-adjustment-transaction), ONE entry for every platform. The spec says
# "currently only available for QuickBooks Desktop"; Codat's Expenses overview also lists Xero,
# QuickBooks Online and Dynamics. The safer reading holds until Codat confirms the wider list
# (EXPENSES-API-NOTES §5 q3): none of ours, so AdjustmentIn/Out are refused before any call. A
# platform added here has them refused as taken through an endpoint the portal does not send to.
ADJUSTMENT_PLATFORMS: frozenset[Platform] = frozenset()


def rules_for(platform: str, api: str = ApiGeneration.V1) -> PlatformRules:
    """The platform's rules in the generation `api` (a company's `expenses_api`)."""
    rules = PLATFORM_RULES[Platform(platform)]
    if ApiGeneration(api) == ApiGeneration.V1:
        return rules
    newer = NEWER_GENERATION[Platform(platform)]
    transfers = rules.supported_types & TRANSFER_TYPES if newer.transfers else frozenset()
    supported = rules.supported_types & _EXPENSE_TYPES | transfers
    updates = newer.updates_supported_types | (transfers if newer.transfer_updates else set())
    adjustments = Platform(platform) in ADJUSTMENT_PLATFORMS
    receipts = rules.receipts
    if newer.receipt_max_bytes is not None:
        receipts = replace(receipts, max_bytes=min(receipts.max_bytes, newer.receipt_max_bytes))
    return replace(
        rules,
        api=ApiGeneration.EXPENSES,
        receipts=receipts,
        supported_types=supported,
        updates_supported_types=updates & supported,
        # A transfer names two accounts and no contact.
        contact_for_type={
            t: kind for t, kind in rules.contact_for_type.items() if t not in TRANSFER_TYPES
        },
        transfer_types=transfers,
        types_elsewhere=rules.supported_types & ADJUSTMENT_TYPES if adjustments else frozenset(),
    )


def valid_for_entry(transaction_type: str) -> str:
    """What an account's `validFor` (the newer generation's mapping options) lists when the
    account may be used on an expense of this type: the endpoint, and for the expense endpoint
    the type ("expense-transactions.Payment", "transfer-transactions")."""
    if transaction_type in TRANSFER_TYPES:
        return TRANSFER_TRANSACTIONS
    if transaction_type in ADJUSTMENT_TYPES:
        return ADJUSTMENT_TRANSACTIONS
    return f"{EXPENSE_TRANSACTIONS}.{transaction_type}"


def types_taken_in() -> list[TransactionType]:
    """The types at least one platform syncs, in Codat's order: what the ingest API accepts.

    An expense of a type its own company's platform refuses is still taken in (and shown as
    refused); one no platform could ever sync is not."""
    return [t for t in TransactionType if any(r.supports(t) for r in PLATFORM_RULES.values())]


def listed(words: list[str], *, last: str = " and ") -> str:
    """'a', 'a and b', 'a, b and c'."""
    return last.join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _plural_labels(types: frozenset[TransactionType]) -> str:
    """'payments', 'payments, refunds and transfers': both transfer types are 'transfers'."""
    words = [t.label.lower() + "s" for t in TransactionType if t in types - TRANSFER_TYPES]
    if types & TRANSFER_TYPES:
        words.append("transfers")
    return listed(words)


def update_support_sentence(api: str = ApiGeneration.V1) -> str:
    """What the generation's update endpoint can correct, for messages: 'v1 updates only Xero
    payments'."""
    every = {platform: rules_for(platform, api) for platform in PLATFORM_RULES}
    parts = [
        f"{Platform(platform).label} {_plural_labels(rules.updates_supported_types)}"
        for platform, rules in every.items()
        if rules.updates_supported_types
    ]
    name = "v1" if ApiGeneration(api) == ApiGeneration.V1 else _API_NAMES[ApiGeneration(api)]
    if not parts:
        return f"{name} updates nothing"
    # A part that is a list itself ("payments and transfers") is set off by a comma.
    last = ", and " if any(" and " in part for part in parts) else " and "
    return f"{name} updates only {listed(parts, last=last)}"


def currency_combination_allowed(
    platform: str, *, base: str, bank: str, transaction: str, api: str = ApiGeneration.V1
) -> bool:
    """Whether the platform books a Payment or Refund in `transaction` currency from a bank
    account in `bank` currency, for a company whose base currency is `base` (API-NOTES §4.4),
    in the generation `api` (a company's `expenses_api`).

    A platform that books in the bank account's currency ignores the transaction's, so only the
    bank account's currency matters there. Elsewhere two non-base currencies can never meet in
    one transaction.
    """
    rules = rules_for(platform, api)
    if rules.books_in_bank_currency:
        return True
    if bank == base and transaction == base:
        return True
    if bank == transaction:  # a foreign card spending in its own currency
        return rules.foreign_card_in_own_currency
    if bank == base:  # a base-currency card spending abroad
        return rules.base_card_abroad
    return False
