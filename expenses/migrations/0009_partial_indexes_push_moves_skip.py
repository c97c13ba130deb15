"""Two indexes of the expenses narrowed to the rows their readers read, so that a push's three
status moves of every expense (to pushing, syncing, synced) write neither: the dashboard's
backlog age reads approved expenses only, and deleting a supplier looks for the expenses that
name it (most name none). Every index is written on each update of a row (a status move is
never a HOT update), so each one a move skips is a tenth less index work. The supplier's
foreign key loses only its index; its constraint stays as it is (re-creating it, as a plain
AlterField would, re-checks every row under lock)."""

import django.db.models.deletion
from django.db import migrations, models

SUPPLIER_INDEX = "expenses_expense_supplier_override_id_855c60e3"


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0003_fk_indexes_another_index_starts_with"),
        ("expenses", "0008_fk_indexes_another_index_starts_with"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="expense",
            name="expense_status_age_idx",
        ),
        migrations.AddIndex(
            model_name="expense",
            index=models.Index(
                condition=models.Q(("status", "approved")),
                fields=["company", "status_changed_at"],
                name="expense_approved_age_idx",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="expense",
                    name="supplier_override",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="companies.supplier",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {SUPPLIER_INDEX}",
                    reverse_sql=(
                        f"CREATE INDEX {SUPPLIER_INDEX} ON expenses_expense (supplier_override_id)"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="expense",
            index=models.Index(
                condition=models.Q(("supplier_override__isnull", False)),
                fields=["supplier_override"],
                name="expense_supplier_override_idx",
            ),
        ),
    ]
