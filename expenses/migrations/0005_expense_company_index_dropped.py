import django.db.models.deletion
from django.db import migrations, models

# The foreign key's own index: every index the company's reads use already starts with
# company_id. Only the index goes; the constraint stays as it is (re-creating it, as a plain
# AlterField would, re-checks every row of the table under lock).
INDEX = "expenses_expense_company_id_8a1baf75"


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0002_company_steps_and_errors"),
        ("expenses", "0004_expense_merchant_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="expense",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="expenses",
                        to="companies.company",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON expenses_expense (company_id)",
                ),
            ],
        ),
    ]
