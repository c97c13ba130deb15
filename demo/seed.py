"""The demo seed: the demo sign-ins, one company per platform onboarded through the real services
against the embedded sandbox on Sync for Expenses v1, one more on Codat's newer Expenses API, and
a few hundred realistic expenses each, some coded and approved.

`make run` seeds before the web server starts, so nothing listens on CODAT_BASE_URL yet. The
seed therefore gives the Codat client an `InProcessSandboxAdapter`: the same services, client and
HTTP requests, answered by this process's Django application instead of a socket. That adapter
is for seeding only; everything else reaches Codat (or the sandbox) over the network.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import QuerySet
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from companies.models import (
    Company,
    CompanyStatus,
    ConnectionKind,
    Customer,
    LedgerAccount,
    Role,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from companies.onboarding import (
    company_codat_create,
    company_configuration_push,
    company_configuration_save,
    company_link_check,
)
from companies.platforms import (
    ApiGeneration,
    Platform,
    TransactionType,
    currency_combination_allowed,
    rules_for,
)
from companies.refresh import (
    PollOutcome,
    company_refresh_poll,
    company_refresh_pull,
    company_refresh_start,
)
from companies.services import membership_set_role
from expenses.coding import LineInput, expense_set_coding, expense_set_lines, split_gross
from expenses.ingest import expenses_ingest
from expenses.models import Expense, ExpenseSource
from expenses.receipts import receipt_add
from expenses.services import ExpenseRefused, expense_approve
from gateway.exchanges import codat_session


class InProcessSandboxAdapter(BaseAdapter):
    """A `requests` transport that hands each request to this process's Django app (through
    the test client's WSGI handler, which leaves the database connection open) instead of a
    socket. Used by `seed_demo` only, when no web server is running yet."""

    def __init__(self) -> None:
        super().__init__()
        from django.test import Client

        self._client = Client(raise_request_exception=False)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        path = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):  # a streamed multipart body
            body = b"".join(body)
        headers = dict(request.headers)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        headers.pop("Content-Length", None)
        answer = self._client.generic(
            request.method or "GET",
            path,
            data=body,
            content_type=content_type,
            headers=headers,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.reason_phrase
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response._content = b"".join(answer) if answer.streaming else answer.content
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@contextmanager
def in_process_sandbox() -> Iterator[requests.Session]:
    """Every Codat client built inside the block talks to the embedded sandbox in-process."""
    session = requests.Session()
    base = settings.CODAT_BASE_URL.rstrip("/")
    session.mount(base + "/", InProcessSandboxAdapter())
    with codat_session(session):
        yield session


DEMO_USERS = (
    # username, password, is_superuser: the sign-ins CONTRACTS.md promises.
    ("admin", "admin", True),
    ("finance", "finance", False),
)


@transaction.atomic
def demo_users_ensure() -> list[User]:
    """Create the demo sign-ins if missing, and reset their passwords; safe to run again."""
    user_model = get_user_model()
    users = []
    for username, password, is_superuser in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=username)
        user.is_superuser = user.is_staff = is_superuser
        user.is_active = True
        # An address, so that the failure notices of the demo show in the worker's output.
        user.email = user.email or f"{username}@example.com"
        if not user.check_password(password):
            user.set_password(password)
        user.save()
        users.append(user)
    return users


# Name, platform and the generation of Codat's expenses API the company speaks: one company
# per platform on v1, and one on the newer generation beside a v1 company of the same platform.
DEMO_COMPANIES = (
    ("Harbour Coffee Ltd", Platform.XERO, ApiGeneration.V1),
    ("Northwind Outfitters Inc", Platform.QUICKBOOKS_ONLINE, ApiGeneration.V1),
    ("Bluebird Logistics Corp", Platform.NETSUITE, ApiGeneration.V1),
    ("Alpenrose Handels GmbH", Platform.DYNAMICS_365, ApiGeneration.V1),
    ("Kestrel Design Ltd", Platform.XERO, ApiGeneration.EXPENSES),
)

MERCHANTS = {
    TransactionType.PAYMENT: [
        "Pret A Manger",
        "Uber",
        "Amazon Web Services",
        "Staples",
        "Shell",
        "Marriott",
        "British Airways",
        "Deliveroo",
        "Zoom",
        "Slack",
        "WeWork",
        "Trainline",
        "Hertz",
        "Starbucks",
        "Apple",
        "Adobe",
        "Lufthansa",
        "Hilton",
        "IKEA",
        "FedEx",
    ],
    TransactionType.REFUND: ["Amazon", "Marriott", "British Airways", "Staples"],
    TransactionType.REWARD: ["Card cashback", "Partner reward"],
    TransactionType.CHARGEBACK: ["Disputed: Hertz", "Disputed: Uber"],
    TransactionType.TRANSFER_IN: ["Top-up from current account"],
    TransactionType.TRANSFER_OUT: ["Sweep to current account"],
    TransactionType.ADJUSTMENT_IN: ["FX adjustment credit"],
    TransactionType.ADJUSTMENT_OUT: ["Card fee"],
}
EMPLOYEES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Tim Berners-Lee"]
# Rates to the base currency (units of base per unit of foreign), plausible for late 2026.
RATES = {
    ("GBP", "USD"): Decimal("0.79"), ("GBP", "EUR"): Decimal("0.86"),
    ("USD", "CAD"): Decimal("0.73"), ("USD", "EUR"): Decimal("1.08"),
    ("USD", "GBP"): Decimal("1.27"), ("EUR", "USD"): Decimal("0.92"),
    ("EUR", "GBP"): Decimal("1.17"),
}  # fmt: skip


_Contact = TypeVar("_Contact", Supplier, Customer)


@dataclass
class SeedSummary:
    companies: int = 0
    created_expenses: int = 0


def demo_seed(
    *,
    users: list[User],
    expenses_per_company: int = 300,
    sleep: Callable[[float], None] = time.sleep,
    wait_limit_s: float = 60.0,
) -> SeedSummary:
    """Onboard the demo companies (if not yet) and add their expenses (if not yet)."""
    summary = SeedSummary()
    if not settings.SANDBOX_ENABLED:
        return summary  # demo companies live in the embedded sandbox only, never in real Codat
    approver = next(u for u in users if not u.is_superuser)
    support = next(u for u in users if u.is_superuser)
    with in_process_sandbox() as session:
        for index, (name, platform, api) in enumerate(DEMO_COMPANIES):
            company = _demo_company(
                name,
                platform,
                api,
                support,
                session=session,
                sleep=sleep,
                wait_limit_s=wait_limit_s,
            )
            membership_set_role(company=company, user=approver, role=Role.APPROVER)
            summary.companies += 1
            summary.created_expenses += _demo_expenses(
                company, approver, count=expenses_per_company, seed=index
            )
    return summary


def _demo_company(
    name: str,
    platform: Platform,
    api: ApiGeneration,
    support: User,
    *,
    session: requests.Session,
    sleep: Callable[[float], None],
    wait_limit_s: float,
) -> Company:
    company, _ = Company.objects.get_or_create(
        name=name, defaults={"platform": platform, "status": CompanyStatus.NEW, "expenses_api": api}
    )
    if company.status == CompanyStatus.READY:
        return company
    company_codat_create(company=company)
    if company.expenses_api == ApiGeneration.EXPENSES:
        # The Codat company moves to the Expenses product before its data is pulled, so its
        # mapping options come in the newer generation's shape.
        _sandbox_control(
            session, "PUT", f"companies/{company.codat_company_id}/api", json={"api": api}
        )
    accounting = company.connections.get(kind=ConnectionKind.ACCOUNTING, deleted_at__isnull=True)
    if not accounting.is_linked:
        # The customer's click on the Link page, through the sandbox's control surface.
        _sandbox_control(
            session,
            "POST",
            f"companies/{company.codat_company_id}/connections/"
            f"{accounting.codat_connection_id}/authorize",
        )
    company_link_check(company=company)
    company.refresh_from_db()
    if company.master_data_refreshed_at is None:
        if company.refresh_started_at is None:
            company_refresh_start(company=company)
        # The sandbox makes fetched data readable after its sync delay (2 s by default):
        # look again until it is there, within a bound.
        waited = 0.0
        while company_refresh_poll(company=company) == PollOutcome.WAIT and waited < wait_limit_s:
            sleep(0.5)
            waited += 0.5
        company_refresh_pull(company=company)  # the expenses app rechecks on its signal
        company.refresh_from_db()
    bank = (
        LedgerAccount.objects.usable()
        .filter(company=company, is_bank_account=True, currency=company.base_currency)
        .order_by("name")
        .first()
    )
    if bank is None:
        raise RuntimeError(f"the sandbox gave {name} no bank account in its base currency")
    # Default contacts that trade in any currency, else in the base currency: a default
    # supplier of one currency refuses every expense booked in another.
    supplier = _default_contact(Supplier.objects.usable().filter(company=company), company)
    customer = _default_contact(Customer.objects.usable().filter(company=company), company)
    company_configuration_save(
        company=company, bank_account=bank, supplier=supplier, customer=customer, by=support
    )
    company_configuration_push(company=company)
    company.refresh_from_db()
    return company


def _sandbox_control(
    session: requests.Session, method: str, path: str, json: object = None
) -> None:
    """A call to the sandbox's control surface (`_sandbox/…`), with the API key."""
    key = base64.b64encode(settings.CODAT_API_KEY.encode()).decode("ascii")
    answer = session.request(
        method,
        f"{settings.CODAT_BASE_URL.rstrip('/')}/_sandbox/{path}",
        json=json,
        headers={"Authorization": f"Basic {key}"},
        timeout=10,
    )
    answer.raise_for_status()


def _default_contact(usable: QuerySet[_Contact], company: Company) -> _Contact | None:
    usable = usable.order_by("name")
    return (
        usable.filter(default_currency="").first()
        or usable.filter(default_currency=company.base_currency).first()
    )


def _demo_expenses(company: Company, approver: User, *, count: int, seed: int) -> int:
    rng = random.Random(seed)
    api = company.expenses_api
    rules = rules_for(company.platform, api)
    base = company.base_currency
    # Only the currencies the platform books from the company's base-currency card.
    foreign = [
        c
        for c in ("USD", "EUR", "GBP", "CAD")
        if c != base
        and (base, c) in RATES
        and currency_combination_allowed(
            company.platform, base=base, bank=base, transaction=c, api=api
        )
    ]
    supported = [t for t in TransactionType if rules.supports(t)]
    # A v1 company shows a few types its platform refuses; the newer-generation company shows
    # only what its generation takes on the platform.
    refused = (
        [t for t in TransactionType if not rules.supports(t)] if api == ApiGeneration.V1 else []
    )
    # Per company (the v1 ids as they always were, so an earlier seed is recognised).
    prefix = f"demo-{company.platform}" + ("" if api == ApiGeneration.V1 else f"-{api}")
    items = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.7 or len(supported) == 1:
            kind = TransactionType.PAYMENT
        elif refused and roll > 0.99:
            kind = rng.choice(refused)  # a type the platform refuses: left to categorize
        else:
            kind = rng.choice(supported)
        currency = base if rng.random() < 0.75 or not foreign else rng.choice(foreign)
        amount = Decimal(rng.randint(150, 45000)) / 100
        items.append(
            {
                "external_id": f"{prefix}-{i:04d}",
                "type": kind.value,
                "issue_date": (
                    date(2026, 11, 20) - timedelta(days=rng.randint(0, 120))
                ).isoformat(),
                "currency": currency,
                "amount": str(amount),
                "currency_rate": str(RATES[(base, currency)]) if currency != base else None,
                "merchant_name": rng.choice(MERCHANTS[kind]),
                "card_label": f"Visa •••• {4000 + rng.randint(0, 4) * 1111}",
                "employee_name": rng.choice(EMPLOYEES),
            }
        )
    results = expenses_ingest(company=company, items=items, source=ExpenseSource.API, by=None)
    created_ids = [r.expense_id for r in results if r.outcome == "created" and r.expense_id]
    if not created_ids:
        return 0
    coding = _Coding.load(company)
    for position, expense in enumerate(
        Expense.objects.filter(pk__in=created_ids).select_related("company").order_by("external_id")
    ):
        _code_demo_expense(expense, approver, coding, rng, position)
    return len(created_ids)


@dataclass
class _Coding:
    accounts: list[LedgerAccount]
    tax_rates: list[TaxRate]
    tracking: list[TrackingCategory]

    @classmethod
    def load(cls, company: Company) -> _Coding:
        return cls(
            accounts=list(
                LedgerAccount.objects.usable().filter(company=company).order_by("codat_id")
            ),
            tax_rates=list(TaxRate.objects.usable().filter(company=company).order_by("codat_id")),
            tracking=list(
                TrackingCategory.objects.usable()
                .filter(company=company, has_children=False, parent__isnull=False)
                .order_by("codat_id")
            ),
        )

    def account_for(self, kind: str, rng: random.Random) -> LedgerAccount | None:
        options = [a for a in self.accounts if a.accepts(kind)]
        return rng.choice(options) if options else None

    def tax_for(self, kind: str, rng: random.Random) -> TaxRate | None:
        options = [t for t in self.tax_rates if kind in (t.valid_transaction_types or [])]
        return rng.choice(options) if options else None


def _code_demo_expense(
    expense: Expense, approver: User, coding: _Coding, rng: random.Random, position: int
) -> None:
    """A third stays to categorize, a third is coded, a third coded and approved; some are
    split across two lines and some carry a receipt."""
    plan = position % 3
    if plan == 0:
        return
    account = coding.account_for(expense.type, rng)
    tax_rate = coding.tax_for(expense.type, rng)
    if account is None:
        return  # a type the platform refuses: nothing accepts it, it stays to categorize
    tracking = [rng.choice(coding.tracking)] if coding.tracking and rng.random() < 0.5 else []
    try:
        if rng.random() < 0.15 and expense.amount >= 20:
            first_gross = (expense.amount * Decimal("0.6")).quantize(Decimal("0.01"))
            lines = []
            for gross in (first_gross, expense.amount - first_gross):
                net, tax = split_gross(gross, tax_rate)
                second = coding.account_for(expense.type, rng) or account
                lines.append(
                    LineInput(
                        net_amount=net,
                        tax_amount=tax,
                        account=second,
                        tax_rate=tax_rate,
                        tracking=tracking,
                    )
                )
            expense_set_lines(expense=expense, lines=lines, by=approver, source="split")
        else:
            expense_set_coding(
                expense=expense,
                by=approver,
                account=account,
                tax_rate=tax_rate,
                tracking=tracking,
                source="rule",
            )
        if rng.random() < 0.25:
            _attach_receipt(expense, approver, rng)
        if plan == 2:
            expense.refresh_from_db()
            expense_approve(expense=expense, by=approver)
    except ExpenseRefused:
        pass  # the platform's rules refuse this one: it stays for a person to look at


def _attach_receipt(expense: Expense, by: User, rng: random.Random) -> None:
    if rng.random() < 0.7:
        upload = SimpleUploadedFile(
            f"receipt-{expense.external_id}.png", _png(rng.randint(0, 0xFFFFFF)), "image/png"
        )
    else:
        upload = SimpleUploadedFile(
            f"receipt-{expense.external_id}.pdf", _pdf(expense.merchant_name), "application/pdf"
        )
    # Some types take no attachments on some platforms: those simply have no receipt.
    with suppress(ExpenseRefused):
        receipt_add(expense=expense, upload=upload, by=by)


def _png(colour: int) -> bytes:
    """A 2x2 PNG of one colour: small, valid, and different per receipt."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    pixel = colour.to_bytes(3, "big")
    raw = b"".join(b"\x00" + pixel * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _pdf(text: str) -> bytes:
    """A one-page PDF with the merchant's name on it, with a correct cross-reference table."""
    safe = "".join(c for c in text if c.isalnum() or c in " .-&")[:60]
    stream = f"BT /F1 14 Tf 40 100 Td (Receipt: {safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def demo_company_states() -> Mapping[str, str]:
    """Each demo company's status and the generation it speaks: 'ready · Expenses API'."""
    return {
        company.name: f"{company.status} · {company.expenses_api_label}"
        for company in Company.objects.filter(name__in=[n for n, _, _ in DEMO_COMPANIES])
    }
