"""Foreign keys' own indexes that another index of the same table starts with: that index
serves every read the foreign key's did, and each one fewer is less to write on every insert
and update. Only the indexes go; the constraints stay as they are (re-creating them, as a
plain AlterField would, re-checks every row of each table under lock)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = [  # (index, table, column)
    ("companies_customer_company_id_fdff027a", "companies_customer", "company_id"),
    ("companies_ledgeraccount_company_id_4dc89b8d", "companies_ledgeraccount", "company_id"),
    ("companies_membership_user_id_5e947419", "companies_membership", "user_id"),
    ("companies_supplier_company_id_a06872d3", "companies_supplier", "company_id"),
    ("companies_taxrate_company_id_bf42755c", "companies_taxrate", "company_id"),
    ("companies_trackingcategory_company_id_62720491", "companies_trackingcategory", "company_id"),
    ("companies_bankaccount_company_id_fd5daf23", "companies_bankaccount", "company_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0002_company_steps_and_errors"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="bankaccount",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="bank_accounts",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="customers",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgeraccount",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ledger_accounts",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="membership",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="supplier",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="suppliers",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="taxrate",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tax_rates",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="trackingcategory",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tracking_categories",
                        to="companies.company",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {index}",
                    reverse_sql=f"CREATE INDEX {index} ON {table} ({column})",
                )
                for index, table, column in INDEXES
            ],
        ),
    ]
