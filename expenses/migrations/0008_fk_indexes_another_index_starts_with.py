"""Foreign keys' own indexes that another index of the same table starts with: that index
serves every read the foreign key's did, and each one fewer is less to write on every insert
and update. Only the indexes go; the constraints stay as they are (re-creating them, as a
plain AlterField would, re-checks every row of each table under lock)."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [  # (index, table, column)
    ("expenses_expenseline_expense_id_e6451e5c", "expenses_expenseline", "expense_id"),
    ("expenses_receipt_expense_id_94b562a2", "expenses_receipt", "expense_id"),
    (
        "expenses_categorizationrule_company_id_0bf1ce4d",
        "expenses_categorizationrule",
        "company_id",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0003_fk_indexes_another_index_starts_with"),
        ("expenses", "0007_event_expense_index_dropped"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="categorizationrule",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rules",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="expenseline",
                    name="expense",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lines",
                        to="expenses.expense",
                    ),
                ),
                migrations.AlterField(
                    model_name="receipt",
                    name="expense",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="receipts",
                        to="expenses.expense",
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
