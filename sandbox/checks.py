"""What each platform checks on one transaction, and the ledger record it writes when the
transaction passes: card expenses (both generations), and the newer generation's transfers, bills
(reimbursable expenses) and journals (adjustments).

The engine (`engine.run_sync`) runs a checker over every transaction of a sync; a checker never
touches the database except through `load_master_data`, so a sync is checked and written in one
transaction. Messages name the record and the fix, as the platforms' own errors do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.models import (
    ExpensesApi,
    RecordKind,
    SandboxCompany,
    SandboxLedgerRecord,
    SandboxRecord,
    SandboxSync,
)
from sandbox.platforms import (
    LEDGER_LOCK_DATE,
    PAYMENT,
    TRANSFERS,
    Platform,
    account_valid_types,
    adjustment_account,
    newer_account_valid_types,
    newer_tax_valid_types,
    reimbursable_account,
    tax_valid_types,
)
from sandbox.validation import parse_issue_date

Item = dict[str, Any]


@dataclass
class MasterData:
    accounts: dict[str, dict[str, Any]]
    tax_rates: dict[str, dict[str, Any]]
    tracking: dict[str, dict[str, Any]]
    suppliers: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any]]
    base_currency: str
    lock_date: str


def load_master_data(company: SandboxCompany) -> MasterData:
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for data_type, record_id, data in SandboxRecord.objects.filter(company=company).values_list(
        "data_type", "record_id", "data"
    ):
        by_type.setdefault(data_type, {})[record_id] = data
    info = next(iter(by_type.get("company", {}).values()), {})
    return MasterData(
        accounts=by_type.get("chartOfAccounts", {}),
        tax_rates=by_type.get("taxRates", {}),
        tracking=by_type.get("trackingCategories", {}),
        suppliers=by_type.get("suppliers", {}),
        customers=by_type.get("customers", {}),
        base_currency=info.get("baseCurrency", ""),
        lock_date=(info.get("ledgerLockDate") or LEDGER_LOCK_DATE)[:10],
    )


def active(record: dict[str, Any]) -> bool:
    return record.get("status") != "Archived" and not record.get("metadata", {}).get("isDeleted")


def deleted(record: dict[str, Any] | None) -> bool:
    return record is None or bool(record.get("metadata", {}).get("isDeleted"))


def label(record: dict[str, Any], name_key: str = "name") -> str:
    return f"{record.get(name_key)} ({record['id']})"


def live_record(
    record: dict[str, Any] | None,
    errors: list[str],
    *,
    missing: str,
    archived: Callable[[dict[str, Any]], str],
) -> dict[str, Any] | None:
    """`record` when it exists and is active; otherwise None, with the platform's message for
    a record that is missing (or deleted) or archived added to `errors`."""
    if record is None or deleted(record):
        errors.append(missing)
        return None
    if record.get("status") == "Archived":
        errors.append(archived(record))
        return None
    return record


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def base_amount(total: Decimal, *, booked: str, base: str, rate: Any) -> Decimal:
    """What the record is worth in the company's base currency: Codat's `currencyRate` is
    base units per one unit of the booked currency, so the base amount is total times the rate."""
    if booked == base or rate is None:
        return Decimal(money(total))
    return (total * Decimal(str(rate))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _issued(value: str) -> str:
    parsed = parse_issue_date(value)
    return parsed.date().isoformat() if parsed else value


def _tax(line: Item) -> Decimal:
    return Decimal(line.get("taxAmount") or 0)


def _lines_total(item: Item) -> Decimal:
    return sum(
        (Decimal(line["netAmount"]) + _tax(line) for line in item.get("lines") or []), Decimal(0)
    )


class ExpenseChecker:
    """A card expense (Payment, Refund, Reward, Chargeback; in v1 also transfers and
    adjustments): accounts, tax rates, tracking, contact, currency, and the line totals the
    platform books.

    v1 takes the bank account from the configuration (checked for the whole sync first, 4000
    otherwise). The newer generation checks per transaction: `bankAccountRef` first, then the
    configured account, so a missing default only fails a transaction with no override.
    """

    kind = RecordKind.EXPENSE

    def __init__(
        self,
        platform: Platform,
        data: MasterData,
        config: dict[str, Any],
        *,
        api: str = ExpensesApi.V1,
    ) -> None:
        self.platform = platform
        self.data = data
        self.config = config
        self.newer = api == ExpensesApi.EXPENSES
        self.api = api
        self.bank: dict[str, Any] | None = (
            None if self.newer else data.accounts[config["bankAccount"]["id"]]
        )

    def _bank_for(self, item: Item, errors: list[str]) -> dict[str, Any] | None:
        p = self.platform
        override = (item.get("bankAccountRef") or {}).get("id")
        bank_id = override or (self.config.get("bankAccount") or {}).get("id")
        if not bank_id:
            errors.append(
                "No bank account: set bankAccountRef on the transaction or a default bank "
                "account in the company configuration."
            )
            return None
        account = self.data.accounts.get(bank_id)
        where = "bankAccountRef" if override else "The configured bank account"
        if deleted(account):
            errors.append(f"{where} {bank_id} does not exist in {p.name}.")
            return None
        assert account is not None
        if not account.get("isBankAccount") or account.get("status") == "Archived":
            errors.append(
                f"{where} {label(account)} is not an active bank or credit-card account in "
                f"{p.name}."
            )
            return None
        return account

    def check(self, item: Item) -> tuple[list[str], dict[str, Any]]:
        p, data = self.platform, self.data
        errors: list[str] = []
        tx_type = item["type"]
        supported = p.newer.expense_types if self.newer else p.supported_types
        if tx_type not in supported:
            return [f"{tx_type} transactions are not supported by {p.name}."], {}
        bank = self._bank_for(item, errors) if self.newer else self.bank
        if bank is None:
            return errors, {}

        bank_ccy = bank["currency"]
        txn_ccy = item.get("currency") or bank_ccy
        problem = p.currency_problem(base=data.base_currency, bank=bank_ccy, txn=txn_ccy)
        if problem:
            errors.append(problem)
        booked = p.booked_currency(bank=bank_ccy, txn=txn_ccy)
        if booked != data.base_currency and item.get("currencyRate") is None:
            errors.append(
                f"A currencyRate is required: the transaction is recorded in {booked} and the "
                f"company's base currency is {data.base_currency}."
            )
        if self.newer:
            if item.get("postAsDraft") and not p.newer.post_as_draft:
                errors.append(
                    f"{p.name} cannot post drafts: postAsDraft is only available for Dynamics 365 "
                    "Business Central. Remove it or set it to false."
                )
            if not item.get("lines"):
                errors.append("An expense transaction needs at least one line.")

        def account_problem(account: dict[str, Any]) -> str | None:
            valid = (
                newer_account_valid_types(account, p)
                if self.newer
                else account_valid_types(account, p)
            )
            if tx_type not in valid:
                return f"Account {account['id']} is not valid for transaction type {tx_type}."
            if tx_type in TRANSFERS and account["id"] == bank["id"]:
                return (
                    f"Account {label(account)} is the company's configured bank account; a "
                    "transfer needs a different bank or credit-card account."
                )
            return None

        lines_out, booked_lines, first_account = self.lines(
            item.get("lines") or [], tx_type, account_problem, errors
        )
        contact = self._contact(
            item, tx_type, bool(first_account and first_account["isBankAccount"]), booked, errors
        )
        self.check_total(item.get("lines") or [], booked_lines, errors)
        return errors, {
            "lines": lines_out,
            "contact": contact,
            "booked": booked,
            "issued": _issued(item["issueDate"]),
            "bank": bank,
        }

    def lines(
        self,
        lines: list[Item],
        tx_type: str,
        account_problem: Callable[[dict[str, Any]], str | None],
        errors: list[str],
    ) -> tuple[list[dict[str, Any]], list[tuple[Decimal, Decimal]], dict[str, Any] | None]:
        """Each line's account, tax rate and tracking. Returns the resolved lines, what the
        platform books per line (a 0% rate books no tax whatever taxAmount says) and the first
        valid account."""
        p, data = self.platform, self.data
        lines_out: list[dict[str, Any]] = []
        booked_lines: list[tuple[Decimal, Decimal]] = []
        first_account: dict[str, Any] | None = None
        tax_types = newer_tax_valid_types if self.newer else tax_valid_types
        for number, line in enumerate(lines, start=1):
            resolved: dict[str, Any] = {
                "accountId": None,
                "netAmount": line["netAmount"],
                "taxAmount": line.get("taxAmount") or "0",
            }
            if line.get("itemRef"):
                errors.append(
                    f"Line {number}: {p.name} does not take itemRef (items replace accounts on "
                    "QuickBooks Desktop only); use accountRef."
                )
            account_ref = line.get("accountRef")
            if account_ref is None:
                errors.append(
                    f"Line {number} has no accountRef: {p.name} books every line to an account."
                )
            else:
                account_id = account_ref["id"]
                resolved["accountId"] = account_id
                account = data.accounts.get(account_id)
                if deleted(account):
                    errors.append(f"Account {account_id} does not exist in {p.name}.")
                else:
                    assert account is not None
                    problem = (
                        f"Account {label(account)} is archived in {p.name}."
                        if account.get("status") == "Archived"
                        else account_problem(account)
                    )
                    if problem:
                        errors.append(problem)
                    else:
                        first_account = first_account or account
                        resolved.update(
                            accountName=account["name"], nominalCode=account.get("nominalCode")
                        )

            tax_ref = line.get("taxRateRef")
            if tx_type in TRANSFERS:
                if _tax(line) != 0:
                    errors.append(
                        f"Transfers cannot carry tax: line {number} has a tax amount of "
                        f"{line['taxAmount']}."
                    )
            elif tax_ref is None:
                errors.append(
                    f"A tax rate is required on line {number} for {tx_type} transactions; "
                    f"use {p.no_tax_code} for no tax in {p.name}."
                )
            else:
                rate = data.tax_rates.get(tax_ref["id"])
                if deleted(rate):
                    errors.append(f"Tax rate {tax_ref['id']} does not exist in {p.name}.")
                elif rate is not None and rate.get("status") == "Archived":
                    errors.append(f"Tax rate {label(rate)} is archived in {p.name}.")
                elif rate is not None and tx_type not in tax_types(rate, p):
                    errors.append(
                        f"Tax rate {label(rate)} is not valid for transaction type {tx_type}."
                    )
                elif rate is not None:
                    resolved.update(taxRateId=rate["id"], taxRateName=rate["name"])
                    if Decimal(str(rate.get("effectiveTaxRate") or 0)) == 0:
                        booked_lines.append((Decimal(line["netAmount"]), Decimal(0)))
                    else:
                        booked_lines.append((Decimal(line["netAmount"]), _tax(line)))

            resolved["tracking"] = self.tracking(line.get("trackingRefs") or [], errors)
            billable = self.invoice_to(line.get("invoiceTo"), number, errors)
            if billable:
                resolved["billableTo"] = billable
            if line.get("description"):
                resolved["description"] = line["description"]
            lines_out.append(resolved)
        return lines_out, booked_lines, first_account

    def tracking(self, refs: list[dict[str, str]], errors: list[str]) -> list[dict[str, Any]]:
        p, data = self.platform, self.data
        out = []
        for ref in refs:
            data_type = ref.get("dataType", "trackingCategories")
            if data_type in ("customers", "suppliers"):
                records = data.customers if data_type == "customers" else data.suppliers
                name_key = "customerName" if data_type == "customers" else "supplierName"
                what = "Customer" if data_type == "customers" else "Supplier"
                record = records.get(ref["id"])
                if deleted(record):
                    errors.append(f"{what} {ref['id']} does not exist in {p.name}.")
                elif record is not None and not active(record):
                    errors.append(f"{what} {label(record, name_key)} is not in an Active state.")
                elif record is not None:
                    out.append({"id": record["id"], "name": record[name_key], "category": what})
                continue
            category = data.tracking.get(ref["id"])
            if deleted(category):
                errors.append(f"Tracking category {ref['id']} does not exist in {p.name}.")
            elif category is not None and category.get("status") == "Archived":
                errors.append(f"Tracking category {label(category)} is archived in {p.name}.")
            elif category is not None and category.get("hasChildren"):
                errors.append(
                    f"Tracking category {label(category)} is a parent category; use one of "
                    "its options."
                )
            elif category is not None:
                parent = data.tracking.get(category.get("parentId") or "")
                out.append(
                    {
                        "id": category["id"],
                        "name": category["name"],
                        "category": parent["name"] if parent else None,
                    }
                )
        return out

    def invoice_to(
        self, ref: dict[str, str] | None, number: int, errors: list[str]
    ) -> dict[str, str] | None:
        """A billable line (`invoiceTo`): QuickBooks Online only among the sandbox's platforms."""
        if not ref:
            return None
        p = self.platform
        if not p.newer.invoice_to:
            errors.append(
                f"Line {number}: {p.name} does not take invoiceTo; billable expenses are "
                "available for QuickBooks Online (and Desktop) only."
            )
            return None
        customer = self.data.customers.get(ref["id"])
        if customer is None or not active(customer):
            errors.append(f"Customer {ref['id']} is not in an Active state in {p.name}.")
            return None
        return {"id": customer["id"], "name": customer["customerName"]}

    def check_total(
        self, lines: list[Item], booked_lines: list[tuple[Decimal, Decimal]], errors: list[str]
    ) -> None:
        if not booked_lines or len(booked_lines) != len(lines):
            return
        sent = sum((Decimal(ln["netAmount"]) + _tax(ln) for ln in lines), Decimal(0))
        platform_total = sum((net + tax for net, tax in booked_lines), Decimal(0))
        if platform_total != sent:
            parts = " + ".join(f"({money(n)} + {money(t)})" for n, t in booked_lines)
            errors.append(
                f"The line item total {money(platform_total)}({parts}) must equal the "
                f"transaction total {money(sent)}"
            )

    def supplier(self, supplier_id: str, booked: str, errors: list[str]) -> dict[str, Any] | None:
        supplier = live_record(
            self.data.suppliers.get(supplier_id),
            errors,
            missing=f"Supplier {supplier_id} does not exist in {self.platform.name}.",
            archived=lambda r: f"Supplier {label(r, 'supplierName')} is not in an Active state.",
        )
        if supplier is None:
            return None
        if supplier.get("defaultCurrency") and supplier["defaultCurrency"] != booked:
            errors.append(
                f"Supplier {label(supplier, 'supplierName')} trades in "
                f"{supplier['defaultCurrency']} only; the transaction is in {booked}."
            )
            return None
        return {"kind": "Supplier", "id": supplier_id, "name": supplier["supplierName"]}

    def _contact(
        self,
        item: Item,
        tx_type: str,
        account_is_bank: bool,
        booked: str,
        errors: list[str],
    ) -> dict[str, Any] | None:
        p = self.platform
        kind = p.contact_kind(tx_type, account_is_bank)
        override = item.get("contactRef")
        if override and not p.supplier_per_transaction:
            errors.append(
                f"{p.name} cannot take a supplier per transaction: it always uses the company's "
                "default supplier. Remove contactRef."
            )
            return None
        if kind == "Customer":
            # Customers cannot be overridden per transaction: the configuration decides.
            customer_id = (self.config.get("customer") or {}).get("id")
            if not customer_id:
                errors.append(
                    f"{p.name} records {tx_type} transactions against a customer: set a default "
                    "customer in the company configuration."
                )
                return None
            customer = self.data.customers.get(customer_id)
            if customer is None or not active(customer):
                errors.append(f"Customer {customer_id} is not in an Active state in {p.name}.")
                return None
            return {"kind": "Customer", "id": customer_id, "name": customer["customerName"]}
        if kind is None:
            return None
        supplier_id = (override or {}).get("id") or (self.config.get("supplier") or {}).get("id")
        if not supplier_id:
            errors.append(
                f"{p.name} records {tx_type} transactions against a supplier: set contactRef on "
                "the transaction or a default supplier in the company configuration."
            )
            return None
        return self.supplier(supplier_id, booked, errors)

    def _record(
        self,
        company: SandboxCompany,
        sync: SandboxSync,
        item: Item,
        resolved: dict[str, Any],
        now: datetime,
        *,
        total: Decimal,
        **fields: Any,
    ) -> SandboxLedgerRecord:
        """The fields every kind of record fills the same way; `fields` adds or overrides."""
        rate = item.get("currencyRate")
        booked = resolved["booked"]
        values: dict[str, Any] = {
            "company": company,
            "sync": sync,
            "transaction_id": item["id"],
            "kind": self.kind,
            "api": self.api,
            "record_type": self.platform.record_label(item["type"]),
            "record_ref": str(uuid.uuid4()),
            "type": item["type"],
            "issue_date": resolved["issued"],
            "currency": booked,
            "currency_rate": Decimal(rate) if rate is not None else None,
            "bank_account": {},
            "contact": resolved.get("contact"),
            "notes": item.get("notes", ""),
            "reference": item.get("reference") or "",
            "lines": resolved.get("lines", []),
            "total": Decimal(money(total)),
            "base_amount": base_amount(
                total, booked=booked, base=self.data.base_currency, rate=rate
            ),
            "written_at": now,
        }
        values.update(fields)
        return SandboxLedgerRecord(**values)

    def record(
        self,
        company: SandboxCompany,
        sync: SandboxSync,
        item: Item,
        resolved: dict[str, Any],
        now: datetime,
    ) -> SandboxLedgerRecord:
        bank = resolved["bank"]
        return self._record(
            company,
            sync,
            item,
            resolved,
            now,
            total=_lines_total(item),
            bank_account={"id": bank["id"], "name": bank["name"], "currency": bank["currency"]},
            merchant_name=item.get("merchantName", ""),
            draft=bool(item.get("postAsDraft")),
        )


class BillChecker(ExpenseChecker):
    """A reimbursable expense: a bill against the employee, who is a supplier in the ledger
    ("represented as bills that are listed against the employee as the supplier"). The bill is
    in the supplier's currency; there is no bank account."""

    kind = RecordKind.BILL

    def check(self, item: Item) -> tuple[list[str], dict[str, Any]]:
        p, data = self.platform, self.data
        errors: list[str] = []
        booked = item["currency"]
        if booked != data.base_currency and item.get("currencyRate") is None:
            errors.append(
                f"A currencyRate is required: the bill is in {booked} and the company's base "
                f"currency is {data.base_currency}."
            )
        if item.get("apAccountRef"):
            errors.append(
                f"{p.name} books bills to its own accounts payable account: apAccountRef is used "
                "by QuickBooks Desktop only."
            )
        issued, due = _issued(item["issueDate"]), _issued(item["dueDate"])
        if due < issued:
            errors.append(f"The due date {due} is before the issue date {issued}.")
        if not item.get("lines"):
            errors.append("A reimbursable expense needs at least one line.")

        def account_problem(account: dict[str, Any]) -> str | None:
            if not reimbursable_account(account):
                return (
                    f"Account {account['id']} is not valid for reimbursable expenses: use an "
                    "expense account."
                )
            return None

        # A bill line is taxed as a purchase: the rates valid for a Payment.
        lines_out, booked_lines, _ = self.lines(
            item.get("lines") or [], PAYMENT, account_problem, errors
        )
        self.check_total(item.get("lines") or [], booked_lines, errors)
        employee = self.supplier(item["contactRef"]["id"], booked, errors)
        return errors, {
            "lines": lines_out,
            "contact": {**employee, "kind": "Employee"} if employee else None,
            "booked": booked,
            "issued": issued,
            "due": due,
        }

    def record(
        self,
        company: SandboxCompany,
        sync: SandboxSync,
        item: Item,
        resolved: dict[str, Any],
        now: datetime,
    ) -> SandboxLedgerRecord:
        return self._record(
            company, sync, item, resolved, now, total=_lines_total(item), due_date=resolved["due"]
        )


class TransferChecker(ExpenseChecker):
    """A transfer between two accounts, at least one of them a bank or credit-card account
    ("between two bank accounts, or between a bank account and a nominal account"). Each amount
    is in its own account's currency; Codat infers the rate from the two amounts."""

    kind = RecordKind.TRANSFER

    def _account(self, side: str, account_id: str, errors: list[str]) -> dict[str, Any] | None:
        name = self.platform.name
        return live_record(
            self.data.accounts.get(account_id),
            errors,
            missing=f"The {side} account {account_id} does not exist in {name}.",
            archived=lambda r: f"The {side} account {label(r)} is archived in {name}.",
        )

    def check(self, item: Item) -> tuple[list[str], dict[str, Any]]:
        base = self.data.base_currency
        errors: list[str] = []
        source = self._account("from", item["from"]["accountId"], errors)
        target = self._account("to", item["to"]["accountId"], errors)
        if source is None or target is None:
            return errors, {}
        if source["id"] == target["id"]:
            errors.append(f"A transfer needs two different accounts: both are {label(source)}.")
        if not source.get("isBankAccount") and not target.get("isBankAccount"):
            errors.append(
                f"A transfer moves money from or to a bank or credit-card account: neither "
                f"{label(source)} nor {label(target)} is one."
            )
        sent, received = Decimal(item["from"]["amount"]), Decimal(item["to"]["amount"])
        rate: Decimal | None = None
        if source["currency"] == target["currency"]:
            if sent != received:
                errors.append(
                    f"Both accounts are in {source['currency']}: the from amount {money(sent)} "
                    f"and the to amount {money(received)} must be equal."
                )
        elif base not in (source["currency"], target["currency"]):
            errors.append(
                f"Two non-base currencies ({source['currency']}, {target['currency']}) cannot "
                f"appear in one transfer (base currency {base})."
            )
        else:
            rate = (received / sent).quantize(Decimal("0.000001"))

        def side(account: dict[str, Any], amount: Decimal) -> dict[str, Any]:
            return {
                "accountId": account["id"],
                "accountName": account["name"],
                "nominalCode": account.get("nominalCode"),
                "currency": account["currency"],
                "amount": money(amount),
            }

        bank = source if source.get("isBankAccount") else target
        return errors, {
            "from": side(source, sent),
            "to": side(target, received),
            "bank": {"id": bank["id"], "name": bank["name"], "currency": bank["currency"]},
            "rate": str(rate) if rate is not None else None,
            "booked": source["currency"],
            "issued": _issued(item["date"]),
        }

    def record(
        self,
        company: SandboxCompany,
        sync: SandboxSync,
        item: Item,
        resolved: dict[str, Any],
        now: datetime,
    ) -> SandboxLedgerRecord:
        source, target = resolved["from"], resolved["to"]
        base = self.data.base_currency
        return self._record(
            company,
            sync,
            item,
            resolved,
            now,
            total=Decimal(source["amount"]),
            currency_rate=Decimal(resolved["rate"]) if resolved["rate"] else None,
            bank_account=resolved["bank"],
            notes=item.get("description", ""),
            lines=[],
            transfer={"from": source, "to": target, "description": item.get("description", "")},
            # The side in the base currency is what the transfer is worth in it.
            base_amount=Decimal(
                target["amount"] if target["currency"] == base else source["amount"]
            ),
        )


class JournalChecker(ExpenseChecker):
    """An adjustment: a journal of signed lines (+debit / -credit) that must balance."""

    kind = RecordKind.JOURNAL

    def check(self, item: Item) -> tuple[list[str], dict[str, Any]]:
        p, data = self.platform, self.data
        errors: list[str] = []
        booked = item["currency"]
        if booked != data.base_currency and item.get("currencyRate") is None:
            errors.append(
                f"A currencyRate is required: the journal is in {booked} and the company's base "
                f"currency is {data.base_currency}."
            )
        lines_out = []
        for number, line in enumerate(item["lines"], start=1):
            account_id = line["accountRef"]["id"]
            account = data.accounts.get(account_id)
            resolved: dict[str, Any] = {"accountId": account_id, "amount": line["amount"]}
            if deleted(account):
                errors.append(f"Account {account_id} does not exist in {p.name}.")
            elif account is not None and account.get("status") == "Archived":
                errors.append(f"Account {label(account)} is archived in {p.name}.")
            elif account is not None and not adjustment_account(account):
                errors.append(f"Account {label(account)} is not valid for adjustments.")
            elif account is not None:
                resolved.update(accountName=account["name"], nominalCode=account.get("nominalCode"))
            resolved["tracking"] = self.tracking(line.get("trackingRefs") or [], errors)
            billable = self.invoice_to(line.get("invoiceTo"), number, errors)
            if billable:
                resolved["billableTo"] = billable
            if line.get("description"):
                resolved["description"] = line["description"]
            lines_out.append(resolved)
        amounts = [Decimal(line["amount"]) for line in item["lines"]]
        debits = sum((a for a in amounts if a > 0), Decimal(0))
        credits = -sum((a for a in amounts if a < 0), Decimal(0))
        if len(amounts) < 2:
            errors.append("A journal needs at least two lines: a debit and a credit.")
        elif debits != credits:
            errors.append(
                f"The journal does not balance: debits {money(debits)} and credits "
                f"{money(credits)} must be equal (the line amounts must add up to zero)."
            )
        return errors, {
            "lines": lines_out,
            "booked": booked,
            "issued": _issued(item["date"]),
            "total": money(debits),
        }

    def record(
        self,
        company: SandboxCompany,
        sync: SandboxSync,
        item: Item,
        resolved: dict[str, Any],
        now: datetime,
    ) -> SandboxLedgerRecord:
        return self._record(company, sync, item, resolved, now, total=Decimal(resolved["total"]))
