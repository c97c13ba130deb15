import django.db.models.deletion
from django.db import migrations, models

# The foreign key's own index: the trail's index (expense_id, created_at) starts with it. Only
# the index goes; the constraint stays as it is (re-creating it, as a plain AlterField would,
# re-checks every row of the table under lock).
INDEX = "expenses_expenseevent_expense_id_34e8d930"


class Migration(migrations.Migration):
    dependencies = [("expenses", "0006_one_searched_text_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="expenseevent",
                    name="expense",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="expenses.expense",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON expenses_expenseevent (expense_id)",
                ),
            ],
        ),
    ]
