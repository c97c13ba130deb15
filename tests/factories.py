"""factory-boy factories for every model the tests build."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from companies.models import (
    BankAccount,
    Company,
    Connection,
    ConnectionKind,
    ConnectionStatus,
    Customer,
    LedgerAccount,
    Membership,
    Role,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from companies.platforms import Platform, TransactionType
from expenses.models import Expense, ExpenseLine, Receipt
from syncs.models import PushBatch, ReceiptUpload, Sync, SyncTransaction


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class StaffFactory(UserFactory):
    """A staff account with no permission: the flag alone, which grants nothing."""

    is_staff = True


def support_group(name: str) -> object:
    """The support group `name` with its permissions (companies.staff.SUPPORT_GROUPS), as the
    data migration makes it; made again here since transactional tests empty the tables."""
    from django.contrib.auth.models import Group, Permission

    from companies.staff import SUPPORT_APPS, SUPPORT_GROUPS

    group, _ = Group.objects.get_or_create(name=name)
    views = Permission.objects.filter(
        content_type__app_label__in=SUPPORT_APPS, codename__startswith="view_"
    )
    extra = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in (codename.split(".") for codename in SUPPORT_GROUPS[name])
    ]
    group.permissions.set([*views, *extra])
    return group


class SupportFactory(StaffFactory):
    """Support staff in the "Support" group: sees every company, codes, approves, pushes and
    connects companies; manages no members."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def group(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create:
            self.groups.add(support_group(extracted or "Support"))  # type: ignore[attr-defined]


class ReadOnlySupportFactory(SupportFactory):
    """Support staff in the "Support (read-only)" group: sees every company, changes nothing."""

    group = factory.PostGeneration(
        lambda user, create, extracted, **kwargs: (
            create and user.groups.add(support_group(extracted or "Support (read-only)"))
        )
    )


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n} Ltd")
    codat_company_id = factory.LazyFunction(uuid.uuid4)
    platform = Platform.XERO
    base_currency = "GBP"


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    company = factory.SubFactory(CompanyFactory)
    codat_connection_id = factory.LazyFunction(uuid.uuid4)
    kind = ConnectionKind.ACCOUNTING
    platform_key = factory.SelfAttribute("company.platform")
    status = ConnectionStatus.LINKED


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.BOOKKEEPER


class _MasterDataFactory(factory.django.DjangoModelFactory):
    company = factory.SubFactory(CompanyFactory)
    codat_id = factory.Sequence(lambda n: str(100 + n))
    refreshed_at = factory.LazyFunction(timezone.now)


class LedgerAccountFactory(_MasterDataFactory):
    class Meta:
        model = LedgerAccount

    name = factory.Sequence(lambda n: f"Account {n}")
    nominal_code = factory.Sequence(lambda n: str(400 + n))
    account_type = "Expense"
    currency = "GBP"
    valid_transaction_types = factory.LazyFunction(
        lambda: [TransactionType.PAYMENT, TransactionType.REFUND]
    )


class TaxRateFactory(_MasterDataFactory):
    class Meta:
        model = TaxRate

    name = factory.Sequence(lambda n: f"Tax {n}")
    code = factory.Sequence(lambda n: f"T{n}")
    effective_rate = Decimal("20")
    total_rate = Decimal("20")


class TrackingCategoryFactory(_MasterDataFactory):
    class Meta:
        model = TrackingCategory

    name = factory.Sequence(lambda n: f"Department {n}")


class SupplierFactory(_MasterDataFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"Supplier {n}")


class CustomerFactory(_MasterDataFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class BankAccountFactory(_MasterDataFactory):
    class Meta:
        model = BankAccount

    name = factory.Sequence(lambda n: f"Card account {n}")
    account_type = "Credit"
    currency = "GBP"


class ExpenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Expense

    company = factory.SubFactory(CompanyFactory)
    external_id = factory.Sequence(lambda n: f"card-tx-{n}")
    type = TransactionType.PAYMENT
    issue_date = factory.LazyFunction(lambda: date(2026, 11, 2))
    currency = "GBP"
    amount = Decimal("12.00")
    merchant_name = "Pret A Manger"
    employee_name = "Ada Lovelace"


class ExpenseLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpenseLine

    expense = factory.SubFactory(ExpenseFactory)
    net_amount = Decimal("10.00")
    tax_amount = Decimal("2.00")


class ReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Receipt

    expense = factory.SubFactory(ExpenseFactory)
    file = factory.django.FileField(filename="receipt.pdf", data=b"%PDF-1.4 receipt")
    original_name = "receipt.pdf"
    content_type = "application/pdf"
    size = 16
    sha256 = factory.Sequence(lambda n: f"{n:064x}")


class SyncFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sync

    company = factory.SubFactory(CompanyFactory)


class PushBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PushBatch

    company = factory.SubFactory(CompanyFactory)


class SyncTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncTransaction

    sync = factory.SubFactory(SyncFactory)
    transaction_id = factory.LazyFunction(uuid.uuid4)
    status = "Completed"


class ReceiptUploadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReceiptUpload

    receipt = factory.SubFactory(ReceiptFactory)
    sync = factory.SubFactory(SyncFactory)
