"""The accounting platforms we sync to, and what Sync for Expenses v1 lets each of them do.

One table, read by validation, forms and the ledger preview, so a platform rule is written once.
Sources: Codat's v1 docs as summarised in shared/codat/API-NOTES.md §4.2 and §4.3.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Platform(models.TextChoices):
    """Stored as Codat's platform key, so the value is what create-connection takes."""

    XERO = "gbol", "Xero"
    QUICKBOOKS_ONLINE = "qhyg", "QuickBooks Online"
    NETSUITE = "akxx", "Oracle NetSuite"
    DYNAMICS_365 = "trji", "Dynamics 365 Business Central"


class TransactionType(models.TextChoices):
    PAYMENT = "Payment", "Payment"
    REFUND = "Refund", "Refund"
    REWARD = "Reward", "Reward"
    CHARGEBACK = "Chargeback", "Chargeback"
    TRANSFER_IN = "TransferIn", "Transfer in"
    TRANSFER_OUT = "TransferOut", "Transfer out"
    ADJUSTMENT_IN = "AdjustmentIn", "Adjustment in"
    ADJUSTMENT_OUT = "AdjustmentOut", "Adjustment out"


TRANSFER_TYPES = frozenset({TransactionType.TRANSFER_IN, TransactionType.TRANSFER_OUT})
ADJUSTMENT_TYPES = frozenset({TransactionType.ADJUSTMENT_IN, TransactionType.ADJUSTMENT_OUT})
ALL_TYPES = frozenset(TransactionType)


class ContactKind(models.TextChoices):
    SUPPLIER = "supplier", "Supplier"
    CUSTOMER = "customer", "Customer"
    NONE = "none", "No contact"


@dataclass(frozen=True)
class PlatformRules:
    supported_types: frozenset[TransactionType]
    # Which contact the platform records each type against (API-NOTES §4.3).
    contact_for_type: dict[TransactionType, ContactKind]
    no_tax_code: str
    supplier_per_transaction: bool
    needs_default_supplier: bool
    updates_supported_types: frozenset[TransactionType]

    def supports(self, transaction_type: str) -> bool:
        return transaction_type in self.supported_types

    def contact_for(self, transaction_type: str) -> ContactKind:
        return self.contact_for_type.get(TransactionType(transaction_type), ContactKind.NONE)


_T = TransactionType
_S, _C, _N = ContactKind.SUPPLIER, ContactKind.CUSTOMER, ContactKind.NONE

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
    ),
    Platform.NETSUITE: PlatformRules(
        supported_types=frozenset({_T.PAYMENT, _T.REFUND}),
        contact_for_type={_T.PAYMENT: _S, _T.REFUND: _S},
        no_tax_code="-7",
        supplier_per_transaction=True,
        needs_default_supplier=False,
        updates_supported_types=frozenset(),
    ),
    Platform.DYNAMICS_365: PlatformRules(
        supported_types=frozenset({_T.PAYMENT, _T.REFUND, _T.REWARD, _T.CHARGEBACK}),
        contact_for_type={_T.PAYMENT: _N, _T.REFUND: _N, _T.REWARD: _N, _T.CHARGEBACK: _N},
        no_tax_code="",  # Dynamics has no built-in code: the company creates a 0% rate
        supplier_per_transaction=False,
        needs_default_supplier=True,
        updates_supported_types=frozenset(),
    ),
}


def rules_for(platform: str) -> PlatformRules:
    return PLATFORM_RULES[Platform(platform)]


def currency_combination_allowed(platform: str, *, base: str, bank: str, transaction: str) -> bool:
    """Whether the platform books a Payment or Refund in `transaction` currency from a bank
    account in `bank` currency, for a company whose base currency is `base` (API-NOTES §4.4).

    Xero ignores the transaction currency, so only the bank account's currency matters there.
    Elsewhere two non-base currencies can never meet in one transaction.
    """
    if platform == Platform.XERO:
        return True
    if bank == base and transaction == base:
        return True
    if bank == transaction:  # a foreign card spending in its own currency
        return platform in (Platform.DYNAMICS_365, Platform.QUICKBOOKS_ONLINE)
    if bank == base:  # a base-currency card spending abroad
        return platform in (Platform.NETSUITE, Platform.QUICKBOOKS_ONLINE)
    return False
