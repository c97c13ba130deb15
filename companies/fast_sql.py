"""The companies app's hand-written SQL: the read every page of a company starts with, whose
plain ORM version would cost the inline coding and the queue page (bench/README.md) more than
a tenth each. tests/companies/test_fast_sql.py compares it with that ORM version on the same
data. Only table names from the models are formatted in; every value is a parameter."""

from __future__ import annotations

import functools

from django.db import connection

from companies.models import (
    Company,
    CompanyConfiguration,
    Connection,
    ConnectionKind,
    Customer,
    LedgerAccount,
    Membership,
    Supplier,
)
from sfe_portal.db import ModelRow

_VISIBLE_ROW = ModelRow(
    (Company, "c"),
    (CompanyConfiguration, "cf"),
    (LedgerAccount, "ba"),
    (Supplier, "su"),
    (Customer, "cu"),
)

VisibleCompany = tuple[Company, CompanyConfiguration | None, dict[ConnectionKind, str], str | None]


def company_visible_row(*, company_id: int, user_id: int | None) -> VisibleCompany | None:
    """The company, its configuration with the records it names (cached on it, as
    `select_related` would leave them), the status of its newest live connection of each kind,
    and — with `user_id` — that member's role; None when there is no such company (or the
    user is no member of it). One statement."""
    params: list[int | str] = [*ConnectionKind.values]
    if user_id is not None:
        params.append(user_id)
    params.append(company_id)
    with connection.cursor() as cursor:
        cursor.execute(_visible_company_sql(member=user_id is not None), params)
        row = cursor.fetchone()
    if row is None:
        return None
    (company, configuration, bank_account, supplier, customer), rest = _VISIBLE_ROW.read(row)
    *connection_statuses, member_role = rest
    if configuration is not None:
        CompanyConfiguration.bank_account.field.set_cached_value(configuration, bank_account)
        CompanyConfiguration.supplier.field.set_cached_value(configuration, supplier)
        CompanyConfiguration.customer.field.set_cached_value(configuration, customer)
        CompanyConfiguration.company.field.set_cached_value(configuration, company)
    statuses = {
        kind: status
        for kind, status in zip(ConnectionKind, connection_statuses, strict=True)
        if status is not None
    }
    return company, configuration, statuses, member_role


@functools.cache
def _visible_company_sql(*, member: bool) -> str:
    """Written once per process. Parameters: each connection kind, then the user's id
    (members only), then the company's id."""
    table = {
        model: connection.ops.quote_name(model._meta.db_table)
        for model in (
            Company,
            CompanyConfiguration,
            LedgerAccount,
            Supplier,
            Customer,
            Connection,
            Membership,
        )
    }
    # The newest live connection of each kind counts.
    newest = (
        f"(SELECT x.status FROM {table[Connection]} x WHERE x.company_id = c.id "  # noqa: S608
        "AND x.deleted_at IS NULL AND x.kind = %s ORDER BY x.id DESC LIMIT 1)"
    )
    statuses = ", ".join(newest for _ in ConnectionKind)
    membership = (
        f"JOIN {table[Membership]} m ON m.company_id = c.id AND m.user_id = %s " if member else ""
    )
    return (
        f"SELECT {_VISIBLE_ROW.columns()}, {statuses}, {'m.role' if member else 'NULL'} "  # noqa: S608
        f"FROM {table[Company]} c {membership}"
        f"LEFT JOIN {table[CompanyConfiguration]} cf ON cf.company_id = c.id "
        f"LEFT JOIN {table[LedgerAccount]} ba ON ba.id = cf.bank_account_id "
        f"LEFT JOIN {table[Supplier]} su ON su.id = cf.supplier_id "
        f"LEFT JOIN {table[Customer]} cu ON cu.id = cf.customer_id "
        "WHERE c.id = %s"
    )
