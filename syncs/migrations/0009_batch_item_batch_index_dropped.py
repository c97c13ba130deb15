import django.db.models.deletion
from django.db import migrations, models

# The foreign key's own index: the unique (batch_id, expense_id) index starts with it. Only the
# index goes; the constraint stays as it is.
INDEX = "syncs_pushbatchitem_batch_id_0e3065b5"


class Migration(migrations.Migration):
    dependencies = [("syncs", "0008_exchange_time_is_the_answers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="pushbatchitem",
                    name="batch",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="syncs.pushbatch",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON syncs_pushbatchitem (batch_id)",
                ),
            ],
        ),
    ]
